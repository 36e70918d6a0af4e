// The inbound listener: requests from other sidecars for this workload. The port speaks
// mutual TLS (tls/inbound-tls.ts: strict by default, plaintext too in permissive mode);
// each request is checked against the service's AuthorizationPolicies with the peer's
// SPIFFE ID, then forwarded to the app on 127.0.0.1:<app port> through one keep-alive
// pool, carrying the verified identity in x-weft-peer-identity. No retries or load
// balancing here: the calling sidecar owns those. Each request's telemetry record is begun
// on arrival and rides on its Outcome to onOutcome (a 403 included, flagged RBAC).
// HTTP/1.1 goes to the sidecar's own codec (http1/), HTTP/2 (ALPN h2, or the preface in
// plaintext) to node:http2; both reach the same handler. The app is spoken to over HTTP/2
// cleartext when the request came over HTTP/2 or the service declared protocol http2 or
// grpc, else over HTTP/1.1.
import type { Server as NetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Credentials } from '@weft/certs';
import type { Logger } from 'pino';
import type { ProxyRequest, ProxyResponse } from '../http/exchange.ts';
import { forward } from '../http/forward.ts';
import { guarded } from '../http/guarded.ts';
import { closeH2Connections, createH2Server, DEFAULT_H2_LIMITS, type H2Limits, handToH2 } from '../http/h2-server.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { type ProxyError, RESPONSE_FLAG } from '../http/proxy-error.ts';
import { Outcome, type OutcomeListener, type RequestOutcome } from '../http/request-outcome.ts';
import { requestTarget } from '../http/request-target.ts';
import { noteProxyError, sendProxyError } from '../http/synthetic-response.ts';
import { Http1Server } from '../http1/http1-server.ts';
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from '../http1/limits.ts';
import { TCP_ALPN } from '../tcp/mesh-tunnel.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { createInboundTlsListener } from '../tls/inbound-tls.ts';
import { peerIdentityOf } from '../tls/peer-identity.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import type { InboundPolicy } from '../xds/applied-config.ts';
import { acceptInboundTcp, createInboundUpgrades } from './inbound-tunnels.ts';

export interface InboundServer {
  /** The listening socket (TLS detection and termination). */
  readonly listener: NetServer;
  /** Shutdown: connections with nothing in flight close now, the others after their response. */
  closeIdleConnections(): void;
  /** Shutdown: every connection is cut. */
  closeAllConnections(): void;
}

export interface InboundServerOptions {
  readonly app: Upstream;
  readonly policy: () => InboundPolicy;
  readonly credentials: Credentials;
  readonly log: Logger;
  /** Begins a record per request and rewrites trace headers; the record rides on the Outcome. */
  readonly telemetry?: Telemetry | undefined;
  /** Called once per request when it is over (telemetry finishes its record here). */
  readonly onOutcome?: OutcomeListener | undefined;
  /** Limits that protect the listener from clients (defaults: DEFAULT_HTTP1_LIMITS). */
  readonly limits?: Http1Limits | undefined;
  /** HTTP/2 settings and idle timeout of the listener. */
  readonly h2Limits?: H2Limits;
}

export function createInboundServer(options: InboundServerOptions): InboundServer {
  const { app, policy, telemetry } = options;
  const log = options.log.child({ component: 'inbound' });
  const listener = options.onOutcome;
  const limits = options.limits ?? DEFAULT_HTTP1_LIMITS;
  const done = (outcome: RequestOutcome) => {
    if (outcome.flags !== '') log.debug({ outcome }, 'app request failed');
    listener?.(outcome);
  };
  const refuse = (res: ProxyResponse, outcome: Outcome, error: ProxyError) => {
    outcome.flags = RESPONSE_FLAG[error.kind];
    noteProxyError(outcome, res, error);
    outcome.responseBytes = sendProxyError(res, error);
    outcome.end(performance.now());
    done(outcome);
  };
  const handler = guarded(log, (req: ProxyRequest, res: ProxyResponse) => {
    const outcome = new Outcome('inbound', req.method, performance.now());
    if (telemetry !== undefined) outcome.telemetry = telemetry.begin(req, 'inbound', outcome.startMs);
    const target = requestTarget(req);
    if (typeof target === 'string') return refuse(res, outcome, { kind: 'bad-request', message: target });
    const peer = peerIdentityOf(req.connection);
    const current = policy();
    const authorizer = current.authorizer;
    if (authorizer) {
      const method = req.method;
      const denied = authorizer.check(peer, method, target.pathname);
      if (denied) {
        log.debug({ peer, method, path: target.pathname, policies: denied }, 'request denied by authorization policy');
        return refuse(res, outcome, { kind: 'forbidden', policies: denied, peer, method, path: target.pathname });
      }
    }
    const headers = forwardRequestHeaders(req.rawHeaders, {
      clientAddress: req.connection.remoteAddress,
      host: target.absolute ? target.host : undefined,
      peerIdentity: peer ?? '',
    });
    if (outcome.telemetry !== undefined) (telemetry as Telemetry).forwarding(outcome.telemetry, headers, app.address);
    forward(req, res, app, { path: target.path, headers }, outcome, done, req.httpVersionMajor === 2 || current.appProtocol === 'h2');
  });
  // Upgrades (WebSocket) and opaque TCP: inbound-tunnels.ts.
  const http1 = new Http1Server({
    limits,
    log,
    onRequest: handler,
    onUpgrade: createInboundUpgrades({ app, policy, log, telemetry, done }),
  });
  const h2 = createH2Server(options.h2Limits ?? DEFAULT_H2_LIMITS, log, handler);
  const tls = createInboundTlsListener({
    credentials: options.credentials,
    mode: () => policy().mode,
    accept: (socket, seen) => http1.accept(socket, seen),
    alpn: {
      h2: (socket, seen) => handToH2(h2, socket, seen),
      [TCP_ALPN]: (socket) => acceptInboundTcp(socket as TLSSocket, { app, policy, log }),
    },
    handshakeTimeoutMs: Math.min(10_000, limits.headersTimeoutMs),
    log,
  });
  return {
    listener: tls,
    closeIdleConnections: () => {
      http1.closeIdleConnections();
      closeH2Connections(h2, false);
    },
    closeAllConnections: () => {
      http1.closeAllConnections();
      closeH2Connections(h2, true);
    },
  };
}
