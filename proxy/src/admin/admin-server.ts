// The sidecar's admin port (loopback by default): liveness, readiness (only after the
// first full config is applied), a dump of the applied config with its versions, and
// Prometheus metrics.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { DiscoveryClient } from '../xds/discovery-client.ts';

export interface AdminContext {
  readonly config: AppliedConfig;
  readonly discovery: DiscoveryClient;
  readonly identity: Readonly<Record<string, unknown>>;
  readonly metrics: Registry;
  /** POST /telemetry?state=on|off: pause or resume request telemetry; returns the new state. */
  readonly setTelemetry: (on: boolean) => boolean;
}

export function createAdminServer(context: AdminContext): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let status = 200;
    let body: unknown;
    if (req.method === 'POST' && path === '/telemetry') {
      const state = new URL(req.url ?? '/', 'http://admin').searchParams.get('state');
      if (state === 'on' || state === 'off') body = { recording: context.setTelemetry(state === 'on') };
      else {
        status = 400;
        body = { error: 'state: on or off' };
      }
    } else if (req.method !== 'GET') {
      status = 405;
      body = { error: 'only GET (and POST /telemetry?state=on|off)' };
    } else if (path === '/live') {
      body = { live: true };
    } else if (path === '/ready') {
      const ready = context.config.ready;
      status = ready ? 200 : 503;
      body = { ready, controlPlane: context.discovery.state };
    } else if (path === '/metrics') {
      context.metrics.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': context.metrics.contentType, 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        (error: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`cannot collect metrics: ${error.message}\n`);
        },
      );
      return;
    } else if (path === '/config_dump') {
      body = { node: context.identity, controlPlane: context.discovery.state, ...context.config.dump() };
    } else {
      status = 404;
      body = { error: `no such endpoint ${path}; try /ready, /live, /metrics or /config_dump` };
    }
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}
