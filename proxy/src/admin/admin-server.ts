// The sidecar's admin port (loopback by default): liveness, readiness (only after the
// first full config is applied) and a dump of the applied config with its versions.
import { createServer, type Server } from 'node:http';
import type { Credentials } from '@weft/certs';
import type { IdentityClient } from '../identity/identity-client.ts';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { DiscoveryClient } from '../xds/discovery-client.ts';

export interface AdminContext {
  readonly config: AppliedConfig;
  readonly discovery: DiscoveryClient;
  readonly identity: Readonly<Record<string, unknown>>;
  readonly credentials: Credentials;
  readonly identityClient: IdentityClient;
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
      const ready = context.config.ready && context.credentials.leaf !== undefined;
      status = ready ? 200 : 503;
      body = { ready, controlPlane: context.discovery.state, certificate: context.identityClient.state };
    } else if (path === '/config_dump') {
      body = {
        node: context.identity,
        controlPlane: context.discovery.state,
        // Public facts only: certificates and roots, never the key.
        identity: { ...context.identityClient.status(), ...context.credentials.describe() },
        ...context.config.dump(),
      };
    } else {
      status = 404;
      body = { error: `no such endpoint ${path}; try /ready, /live or /config_dump` };
    }
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}
