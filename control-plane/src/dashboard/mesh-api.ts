// The mesh view over HTTP, on the control plane's admin port: JSON for `weft stat`,
// `weft edges`, `weft trace`, the dashboard's graph and charts, and `weft tap` as a
// newline-delimited JSON stream. Also serves the dashboard page itself.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Collector } from '../collector/collector.ts';
import { edgeStats, routeStats, type ServiceRef, serviceStats, serviceTimeline } from '../collector/mesh-stats.ts';
import type { TapFilter } from '../collector/tap-hub.ts';
import { dashboardAsset } from './assets.ts';

export interface MeshApiOptions {
  readonly collector: Collector;
  /** Services in the config and connected sidecars, for nodes without traffic yet. */
  readonly knownServices: () => readonly (ServiceRef & { meshed: number })[];
}

/** A bad query parameter: answered 400 naming it. */
export class QueryError extends Error {
  override readonly name = 'QueryError';
}

const WINDOWS: Readonly<Record<string, number>> = { '30s': 30_000, '1m': 60_000, '5m': 300_000, '10m': 600_000 };

/** Handles the request if it is one of ours; false otherwise. */
export function handleMeshApi(req: IncomingMessage, res: ServerResponse, url: URL, options: MeshApiOptions): boolean {
  if (req.method !== 'GET') return false;
  const path = url.pathname;
  const q = url.searchParams;
  const { collector } = options;
  const asset = dashboardAsset(path);
  if (asset) {
    res.writeHead(200, { 'content-type': asset.contentType, 'content-length': asset.body.length, 'cache-control': 'no-cache' });
    res.end(asset.body);
    return true;
  }
  if (path === '/api/stat') {
    const windowMs = windowOf(q);
    const target = serviceOf(q);
    let services = serviceStats(collector.windows, windowMs, options.knownServices());
    if (target) services = services.filter((s) => s.service === target.service && s.namespace === target.namespace);
    const routes = target ? routeStats(collector.windows, windowMs, target) : undefined;
    json(res, { window: windowName(windowMs), services, ...(routes ? { routes } : {}) });
    return true;
  }
  if (path === '/api/edges') {
    const windowMs = windowOf(q);
    json(res, { window: windowName(windowMs), edges: edgeStats(collector.windows, windowMs) });
    return true;
  }
  if (path === '/api/routes') {
    const windowMs = windowOf(q);
    json(res, { window: windowName(windowMs), routes: routeStats(collector.windows, windowMs, serviceOf(q)) });
    return true;
  }
  if (path === '/api/timeline') {
    const target = serviceOf(q);
    if (!target) throw new QueryError('service: required');
    const windowMs = q.has('window') ? windowOf(q) : 600_000;
    json(res, {
      window: windowName(windowMs),
      slotMs: collector.windows.slotMs,
      points: serviceTimeline(collector.windows, windowMs, target),
    });
    return true;
  }
  if (path === '/api/traces') {
    const limit = Math.min(200, Math.max(1, Number(q.get('limit') ?? 20) || 20));
    json(res, { traces: collector.traces.recent(limit, q.get('service') ?? undefined) });
    return true;
  }
  const trace = /^\/api\/traces\/([0-9a-fA-F]{32})$/.exec(path);
  if (trace) {
    const spans = collector.traces.get(trace[1] as string);
    if (!spans) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: `no trace ${trace[1]} (traces are kept for the last 10000 sampled requests)` })}\n`);
      return true;
    }
    json(res, { traceId: (trace[1] as string).toLowerCase(), spans });
    return true;
  }
  if (path === '/api/telemetry') {
    json(res, { sidecars: collector.sidecars(), duplicatesIgnored: collector.duplicates, activeTaps: collector.taps.active });
    return true;
  }
  if (path === '/api/tap') {
    tap(req, res, q, collector);
    return true;
  }
  return false;
}

function tap(req: IncomingMessage, res: ServerResponse, q: URLSearchParams, collector: Collector): void {
  const target = serviceOf(q);
  if (!target) throw new QueryError('service: required');
  const filter = tapFilterOf(q);
  const max = q.has('max') ? Number(q.get('max')) : 0;
  if (!Number.isInteger(max) || max < 0) throw new QueryError('max: a whole number ≥ 0');
  const rate = q.has('rate') ? Number(q.get('rate')) : 100;
  if (!Number.isInteger(rate) || rate < 1 || rate > 10_000) throw new QueryError('rate: 1–10000 events per second');
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
  // A first line at once, so the client knows the tap is in place before traffic flows.
  res.write(`${JSON.stringify({ tap: 'started', service: target.service, namespace: target.namespace })}\n`);
  let sent = 0;
  const stop = collector.taps.start(
    target,
    filter,
    rate,
    (event) => {
      if (max > 0 && sent >= max) return;
      sent += 1;
      res.write(`${JSON.stringify({ event })}\n`);
      if (max > 0 && sent >= max) {
        stop();
        res.end();
      }
    },
    (skipped) => res.write(`${JSON.stringify({ skipped })}\n`),
  );
  req.on('close', stop);
  res.on('close', stop);
}

function tapFilterOf(q: URLSearchParams): TapFilter {
  const status = q.get('status') ?? '';
  let statusMin = 0;
  let statusMax = 0;
  if (status !== '') {
    const klass = /^([1-5])xx$/i.exec(status);
    const range = /^(\d{3})-(\d{3})$/.exec(status);
    if (klass) {
      statusMin = Number(klass[1]) * 100;
      statusMax = statusMin + 99;
    } else if (range) {
      statusMin = Number(range[1]);
      statusMax = Number(range[2]);
    } else if (/^\d{3}$/.test(status)) {
      statusMin = Number(status);
      statusMax = statusMin;
    } else throw new QueryError(`status: "${status}" is not a code (503), a class (5xx) or a range (500-504)`);
  }
  const direction = q.get('direction') ?? '';
  if (direction !== '' && direction !== 'inbound' && direction !== 'outbound') throw new QueryError('direction: inbound or outbound');
  const path = q.get('path') ?? '';
  if (path !== '' && !path.startsWith('/')) throw new QueryError('path: a prefix starting with /');
  return {
    pathPrefix: path,
    method: (q.get('method') ?? '').toUpperCase(),
    statusMin,
    statusMax,
    direction: direction === '' ? undefined : direction,
  };
}

function serviceOf(q: URLSearchParams): ServiceRef | undefined {
  const service = q.get('service');
  if (!service) return undefined;
  return { service, namespace: q.get('namespace') || 'default' };
}

function windowOf(q: URLSearchParams): number {
  const name = q.get('window') ?? '1m';
  const ms = WINDOWS[name];
  if (ms === undefined) throw new QueryError(`window: "${name}" is not one of ${Object.keys(WINDOWS).join(', ')}`);
  return ms;
}

function windowName(ms: number): string {
  return Object.entries(WINDOWS).find(([, v]) => v === ms)?.[0] ?? `${ms}ms`;
}

function json(res: ServerResponse, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
