// The sidecar's admin port (loopback by default): liveness, readiness (only after the
// first full config is applied), a dump of the applied config with its versions, and the
// clusters as they are right now (endpoints, ejections, breaker and budget counters).
import { createServer, type Server } from 'node:http';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { DiscoveryClient } from '../xds/discovery-client.ts';

export interface AdminContext {
  readonly config: AppliedConfig;
  readonly discovery: DiscoveryClient;
  readonly identity: Readonly<Record<string, unknown>>;
}

export function createAdminServer(context: AdminContext): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let status = 200;
    let body: unknown;
    if (req.method !== 'GET') {
      status = 405;
      body = { error: 'only GET' };
    } else if (path === '/live') {
      body = { live: true };
    } else if (path === '/ready') {
      const ready = context.config.ready;
      status = ready ? 200 : 503;
      body = { ready, controlPlane: context.discovery.state };
    } else if (path === '/config_dump') {
      body = { node: context.identity, controlPlane: context.discovery.state, ...context.config.dump() };
    } else if (path === '/clusters') {
      body = { clusters: [...context.config.clusters.all()].map((c) => c.snapshot()) };
    } else {
      status = 404;
      body = { error: `no such endpoint ${path}; try /ready, /live, /config_dump or /clusters` };
    }
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}
