// The mutating admission webhook: HTTPS, AdmissionReview v1 in, a JSON Patch out, computed by
// the same planInjection as `weft inject`. Two entry points mirror the two selectors of the
// MutatingWebhookConfiguration: /inject/namespace (namespace labelled weft.io/inject=enabled:
// inject unless the pod opts out) and /inject/pod (any other namespace: only pods that opt in).
// Also /live and /ready, so the kubelet can probe the control plane on this port.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { InjectorConfig } from '../injector/injector-config.ts';
import { formatFieldPath } from '../injector/paths.ts';
import { planInjection, type Selection } from '../injector/plan-injection.ts';
import { type AdmissionResponse, allow, deny, parseAdmissionReview } from './admission-review.ts';

// The API server caps a request at 3 MiB; leave room for the envelope.
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const ROUTES: Readonly<Record<string, Selection>> = { '/inject/namespace': 'namespace', '/inject/pod': 'pod' };

export interface WebhookServerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM certificate chain and key for the webhook's Service name. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** Asked per request: the trust bundle injected pods start with follows the CA's. */
  readonly injector: () => InjectorConfig;
  readonly log: Logger;
  readonly isReady: () => boolean;
}

export interface WebhookServer {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const log = options.log.child({ component: 'webhook' });
  const server = createServer({ cert: options.cert, key: options.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res, options, log).catch((error: unknown) => {
      log.error({ err: error, url: req.url }, 'webhook request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: WebhookServerOptions, log: Logger): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method === 'GET' && path === '/live') return send(res, 200, { live: true });
  if (req.method === 'GET' && path === '/ready') return send(res, options.isReady() ? 200 : 503, { ready: options.isReady() });
  const selection = ROUTES[path];
  if (!selection)
    return send(res, 404, { error: `no such endpoint ${path}; the webhook serves POST /inject/namespace and POST /inject/pod` });
  if (req.method !== 'POST') return send(res, 405, { error: 'only POST' });
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return send(res, 415, { error: 'expected application/json' });

  const body = await readBody(req);
  if (body === undefined) return send(res, 413, { error: `body over ${MAX_BODY_BYTES} bytes` });
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return send(res, 400, { error: `invalid JSON: ${(error as Error).message}` });
  }
  const review = parseAdmissionReview(json);
  if (!review.ok) return send(res, 400, { error: review.message });
  const { request } = review;
  const isPodCreate = request.kind.group === '' && request.kind.kind === 'Pod' && request.operation === 'CREATE';
  if (!isPodCreate || request.object === undefined) return send(res, 200, allow(request.uid));

  const pod = describePod(request.object, request.namespace);
  const planned = planInjection(request.object, options.injector(), { selection });
  if (!planned.ok) {
    const message = `weft sidecar injection: ${planned.errors.map((e) => `${formatFieldPath(e.at)}: ${e.message}`).join('; ')}`;
    log.warn({ pod, uid: request.uid, message }, 'pod refused');
    return send(res, 200, deny(request.uid, message));
  }
  const { outcome, patch } = planned.plan;
  if (outcome.kind === 'injected') log.info({ pod, uid: request.uid, service: outcome.service, hash: outcome.hash }, 'sidecar injected');
  else log.debug({ pod, uid: request.uid, outcome }, 'pod not injected');
  return send(res, 200, allow(request.uid, patch));
}

function describePod(object: unknown, namespace: string | undefined): string {
  const metadata = (object as { metadata?: { name?: unknown; generateName?: unknown } } | null)?.metadata;
  const name = typeof metadata?.name === 'string' ? metadata.name : `${String(metadata?.generateName ?? '')}*`;
  return `${namespace ?? ''}/${name}`;
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: AdmissionResponse | Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
