// The sidecar's admin port: liveness, readiness (only after the first full config is
// applied, and no longer once draining), a dump of the applied config, Prometheus metrics
// and POST /shutdown (a Job's last step stops its sidecar). On Kubernetes it listens on the
// pod IP so the kubelet can probe it and Prometheus can scrape it; /shutdown, /telemetry and
// /config_dump answer loopback peers only. /clusters shows endpoints, ejections, breaker
// and budget counters as they are right now.
import { createServer, type Server } from 'node:http';
import type { Credentials } from '@weft/certs';
import type { Registry } from 'prom-client';
import type { IdentityClient } from '../identity/identity-client.ts';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { DiscoveryClient } from '../xds/discovery-client.ts';

export interface AdminContext {
  readonly config: AppliedConfig;
  readonly discovery: DiscoveryClient;
  readonly identity: Readonly<Record<string, unknown>>;
  readonly isDraining: () => boolean;
  /** Starts the drain-and-exit sequence (the same as SIGTERM); returns at once. */
  readonly shutdown: () => void;
  readonly credentials: Credentials;
  readonly identityClient: IdentityClient;
  /** The Prometheus registry, made on the first scrape (prom-client is loaded only then). */
  readonly metrics: () => Promise<Registry>;
  /** POST /telemetry?state=on|off: pause or resume request telemetry; returns the new state. */
  readonly setTelemetry: (on: boolean) => boolean;
}

const LOOPBACK_ONLY = new Set(['GET /config_dump', 'POST /shutdown', 'POST /telemetry']);
const KNOWN_PATHS = new Set(['/live', '/ready', '/metrics', '/config_dump', '/clusters', '/shutdown', '/telemetry']);

export function createAdminServer(context: AdminContext): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    let status = 200;
    let body: unknown;
    if (route === 'GET /live') {
      body = { live: true };
    } else if (route === 'GET /ready') {
      const ready = context.config.ready && context.credentials.leaf !== undefined && !context.isDraining();
      status = ready ? 200 : 503;
      body = {
        ready,
        draining: context.isDraining(),
        controlPlane: context.discovery.state,
        certificate: context.identityClient.state,
      };
    } else if (route === 'GET /metrics') {
      context.metrics().then(
        async (registry) => {
          const text = await registry.metrics();
          res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        (error: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`cannot collect metrics: ${error.message}\n`);
        },
      );
      return;
    } else if (LOOPBACK_ONLY.has(route) && !isLoopback(req.socket.remoteAddress)) {
      status = 403;
      body = { error: `${path} answers only on loopback` };
    } else if (route === 'GET /config_dump') {
      body = {
        node: context.identity,
        controlPlane: context.discovery.state,
        // Public facts only: certificates and roots, never the key.
        identity: { ...context.identityClient.status(), ...context.credentials.describe() },
        ...context.config.dump(),
      };
    } else if (route === 'GET /clusters') {
      body = { clusters: [...context.config.clusters.all()].map((c) => c.snapshot()) };
    } else if (route === 'POST /shutdown') {
      status = 202;
      body = { shutdown: 'draining' };
      res.once('finish', () => context.shutdown());
    } else if (route === 'POST /telemetry') {
      const state = new URL(req.url ?? '/', 'http://admin').searchParams.get('state');
      if (state === 'on' || state === 'off') body = { recording: context.setTelemetry(state === 'on') };
      else {
        status = 400;
        body = { error: 'state: on or off' };
      }
    } else if (KNOWN_PATHS.has(path as string)) {
      status = 405;
      body = { error: `${req.method} not allowed on ${path}` };
    } else {
      status = 404;
      body = {
        error: `no such endpoint ${path}; try /ready, /live, /metrics, /config_dump, /clusters, POST /shutdown or POST /telemetry?state=on|off`,
      };
    }
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(::ffff:)?127\./.test(address));
}
