// The inbound listener: requests from other sidecars for this workload. The port speaks
// mutual TLS (tls/inbound-tls.ts: strict by default, plaintext too in permissive mode);
// each request is checked against the service's AuthorizationPolicies with the peer's
// SPIFFE ID, then forwarded to the app on 127.0.0.1:<app port> through one keep-alive
// pool, carrying the verified identity in x-weft-peer-identity.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Credentials } from '@weft/certs';
import type { Logger } from 'pino';
import { forward } from '../http/forward.ts';
import type { ForwardOutcome } from '../http/forward-handler.ts';
import { guarded } from '../http/guarded.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { requestTarget } from '../http/request-target.ts';
import { serverTimeouts } from '../http/server-timeouts.ts';
import { sendProxyError } from '../http/synthetic-response.ts';
import { createInboundTlsListener } from '../tls/inbound-tls.ts';
import { peerIdentityOf } from '../tls/peer-identity.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import type { InboundPolicy } from '../xds/applied-config.ts';

export interface InboundServer {
  /** The listening socket (TLS detection and termination). */
  readonly listener: NetServer;
  /** The HTTP server the accepted connections are handed to. */
  readonly http: Server;
}

export function createInboundServer(options: {
  app: Upstream;
  policy: () => InboundPolicy;
  credentials: Credentials;
  log: Logger;
}): InboundServer {
  const { app, policy } = options;
  const log = options.log.child({ component: 'inbound' });
  const done = (outcome: ForwardOutcome) => {
    if (outcome.kind === 'proxy-error') log.debug({ error: outcome.error }, 'app request failed');
  };
  const http = createServer(
    serverTimeouts,
    guarded(log, (req: IncomingMessage, res: ServerResponse) => {
      const target = requestTarget(req);
      if (typeof target === 'string') return sendProxyError(res, { kind: 'bad-request', message: target });
      const peer = peerIdentityOf(req.socket);
      const authorizer = policy().authorizer;
      if (authorizer) {
        const method = req.method as string;
        const denied = authorizer.check(peer, method, target.pathname);
        if (denied) {
          log.debug({ peer, method, path: target.pathname, policies: denied }, 'request denied by authorization policy');
          return sendProxyError(res, { kind: 'forbidden', policies: denied, peer, method, path: target.pathname });
        }
      }
      const headers = forwardRequestHeaders(req.rawHeaders, {
        clientAddress: req.socket.remoteAddress,
        host: target.absolute ? target.host : undefined,
        peerIdentity: peer ?? '',
      });
      forward(req, res, app, { path: target.path, headers, timeoutMs: 0 }, done);
    }),
  );
  const listener = createInboundTlsListener({
    credentials: options.credentials,
    mode: () => policy().mode,
    accept: (socket) => http.emit('connection', socket),
    log,
  });
  // node:http starts tracking connections (for headersTimeout and closeAllConnections)
  // when it starts listening; this server never listens itself, so tell it.
  listener.once('listening', () => http.emit('listening'));
  return { listener, http };
}
