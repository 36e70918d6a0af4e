// The inbound port's connections that stop being HTTP: Upgrade requests (WebSocket) from
// other sidecars, checked against AuthorizationPolicies like any request and passed to the
// app (http/upgrade-forward.ts), and opaque TCP (the `weft-tcp` ALPN id on the mTLS hop),
// authorized by the peer's SPIFFE ID alone and spliced with a connection to the app's port.
import { connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { forwardRequestHeaders } from '../http/headers.ts';
import { Outcome, type OutcomeListener } from '../http/request-outcome.ts';
import { requestTarget } from '../http/request-target.ts';
import { forwardUpgrade, refuseUpgrade, type UpgradeRequest } from '../http/upgrade-forward.ts';
import type { UpgradeHandler } from '../http1/server-connection.ts';
import type { Http1Request } from '../http1/server-request.ts';
import { resetAndDestroy, splice } from '../tcp/splice.ts';
import { TCP_IDLE_TIMEOUT_MS } from '../tcp/tcp-proxy.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { peerIdentityOf } from '../tls/peer-identity.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import type { InboundPolicy } from '../xds/applied-config.ts';

export interface InboundTunnelsOptions {
  readonly app: Upstream;
  readonly policy: () => InboundPolicy;
  readonly log: Logger;
  readonly telemetry: Telemetry | undefined;
  readonly done: OutcomeListener;
}

/** The inbound listener's handler of Upgrade requests. */
export function createInboundUpgrades(options: InboundTunnelsOptions): UpgradeHandler {
  const { app, policy, telemetry, done, log } = options;
  return (req: Http1Request, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const outcome = new Outcome('inbound', req.method, performance.now());
    if (telemetry !== undefined) outcome.telemetry = telemetry.begin(req, 'inbound', outcome.startMs);
    const exchange: UpgradeRequest = { req, socket, head };
    if (req.method === 'CONNECT')
      return refuseUpgrade(exchange, outcome, { kind: 'bad-request', message: 'CONNECT is not served on the inbound port' }, done);
    const target = requestTarget(req);
    if (typeof target === 'string') return refuseUpgrade(exchange, outcome, { kind: 'bad-request', message: target }, done);
    const peer = peerIdentityOf(socket);
    const method = req.method;
    const denied = policy().authorizer?.check(peer, method, target.pathname);
    if (denied) {
      log.debug({ peer, method, path: target.pathname, policies: denied }, 'upgrade denied by authorization policy');
      return refuseUpgrade(exchange, outcome, { kind: 'forbidden', policies: denied, peer, method, path: target.pathname }, done);
    }
    const headers = forwardRequestHeaders(req.rawHeaders, {
      clientAddress: socket.remoteAddress,
      host: target.absolute ? target.host : undefined,
      peerIdentity: peer ?? '',
    });
    if (outcome.telemetry !== undefined) (telemetry as Telemetry).forwarding(outcome.telemetry, headers, app.address);
    forwardUpgrade(exchange, app, { path: target.path, headers }, outcome, done);
  };
}

/** Opaque TCP from another sidecar (already through mTLS): authorize, then to the app. */
export function acceptInboundTcp(
  socket: TLSSocket,
  options: { readonly app: Upstream; readonly policy: () => InboundPolicy; readonly log: Logger },
): void {
  const peer = peerIdentityOf(socket);
  socket.on('error', () => socket.destroy());
  const denied = options.policy().authorizer?.checkConnection(peer);
  if (denied) {
    options.log.info({ peer, policies: denied }, 'opaque TCP connection denied by authorization policy');
    resetAndDestroy(socket);
    return;
  }
  socket.pause();
  const colon = options.app.address.lastIndexOf(':');
  const upstream = netConnect({
    host: options.app.address.slice(0, colon),
    port: Number(options.app.address.slice(colon + 1)),
    allowHalfOpen: true,
    noDelay: true,
  });
  upstream.once('error', (error: NodeJS.ErrnoException) => {
    options.log.debug({ peer, app: options.app.address, code: error.code }, 'opaque TCP: app connection failed');
    upstream.destroy();
    resetAndDestroy(socket);
  });
  upstream.once('connect', () => splice(socket, upstream, { idleTimeoutMs: TCP_IDLE_TIMEOUT_MS, onClose: () => {} }));
}
