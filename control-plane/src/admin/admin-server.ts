// The control plane's HTTP API: what `weft apply`, `weft delete` and `weft status` talk to,
// plus liveness and readiness. Bodies are bounded; every answer is JSON.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { formatConfigError } from '../model/config-error.ts';
import { parseMeshYaml } from '../model/parse.ts';
import { resourceKey } from '../model/resources.ts';
import type { CommitResult, ConfigStore } from '../store/config-store.ts';
import type { DiscoveryServer } from '../xds/discovery-server.ts';
import { handleIdentityRoute, type IdentityAdmin } from './identity-routes.ts';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface AdminServerOptions {
  readonly store: ConfigStore;
  readonly discovery: DiscoveryServer;
  readonly log: Logger;
  readonly isReady: () => boolean;
  /** The latest change id (config or endpoints). */
  readonly changeId: () => number;
  readonly identity: IdentityAdmin;
  /** The last certificate the CA issued to a node, for status. */
  readonly certificateOf: (nodeId: string) => unknown;
  /** More GET endpoints (the mesh view and dashboard); true when it answered. */
  readonly extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function createAdminServer(options: AdminServerOptions): Server {
  const log = options.log.child({ component: 'admin' });
  return createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (status === 500) log.error({ err: error, url: req.url }, 'admin request failed');
      sendJson(res, status, { error: (error as Error).message });
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, options: AdminServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  try {
    if (options.extraRoutes?.(req, res, url)) return;
  } catch (error) {
    if ((error as Error).name === 'QueryError') throw new HttpError(400, (error as Error).message);
    throw error;
  }
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /live') return sendJson(res, 200, { live: true });
  if (route === 'GET /ready') return sendJson(res, options.isReady() ? 200 : 503, { ready: options.isReady() });
  if (route === 'GET /api/status') {
    const sidecars = options.discovery.sessions().map((s) => ({ ...s, certificate: options.certificateOf(s.node.id) ?? null }));
    return sendJson(res, 200, { changeId: options.changeId(), sidecars });
  }
  if (await handleIdentityRoute(route, req, res, options.identity, readBody, sendJson)) return;
  if (route === 'GET /api/config') {
    const resources = [...options.store.state.resources.values()].map((s) => ({ ...s.resource, source: s.source }));
    return sendJson(res, 200, { changeId: options.store.state.changeId, resources });
  }
  const change = /^GET \/api\/changes\/(\d+)$/.exec(route);
  if (change) return sendJson(res, 200, options.discovery.changeStatus(Number(change[1])));
  if (route === 'POST /api/apply' || route === 'POST /api/delete') {
    const file = url.searchParams.get('file') || 'request body';
    const parsed = parseMeshYaml(await readBody(req), file);
    let result: CommitResult;
    if (!parsed.ok) result = parsed;
    else if (route === 'POST /api/apply') result = options.store.apply(parsed.documents, file);
    else result = options.store.delete(parsed.documents.map((d) => resourceKey(d.resource)));
    if (!result.ok) {
      return sendJson(res, 400, { errors: result.errors.map(formatConfigError), details: result.errors });
    }
    return sendJson(res, 200, result);
  }
  throw new HttpError(404, `no such endpoint: ${route}`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
