// The sidecar's admin port: liveness, readiness (only after the first full config is
// applied, and no longer once draining), a dump of the applied config, and POST /shutdown
// (a Job's last step stops its sidecar). On Kubernetes it listens on the pod IP so the
// kubelet can probe it; /shutdown and /config_dump answer loopback peers only. /clusters
// shows endpoints, ejections, breaker and budget counters as they are right now.
import { createServer, type Server } from 'node:http';
import type { Credentials } from '@weft/certs';
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
}

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
    } else if ((route === 'GET /config_dump' || route === 'POST /shutdown') && !isLoopback(req.socket.remoteAddress)) {
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
    } else if (path === '/live' || path === '/ready' || path === '/config_dump' || path === '/clusters' || path === '/shutdown') {
      status = 405;
      body = { error: `${req.method} not allowed on ${path}` };
    } else {
      status = 404;
      body = { error: `no such endpoint ${path}; try /ready, /live, /config_dump, /clusters or POST /shutdown` };
    }
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(::ffff:)?127\./.test(address));
}
