// The outbound listener: the app's requests to other services. Request path:
// target (Host or absolute URI) → route table → weighted cluster → outbound-request.ts
// (retries, timeouts, load balancing, circuit breaking, dispatch). Failures become
// synthetic responses with a response flag; every request ends in one RequestOutcome,
// which carries the request's telemetry record (begun on arrival) to onOutcome.
// On a connection redirected here by interception (interception.ts), a request whose Host
// is an IP is routed by the connection's original destination instead, and one that names
// nothing in the mesh goes on to that destination unchanged (passthrough.ts).
// The port serves HTTP/1.1 (http1/, the sidecar's own codec) and cleartext HTTP/2 (prior
// knowledge, as gRPC clients speak it): protocol-detection.ts tells them apart by the first
// bytes; both reach the same handler, and an HTTP/2 request goes on over HTTP/2.
import { createServer as createNetServer, isIP, type Server as NetServer, type Socket } from 'node:net';
import type { OriginalDestination } from '@weft/original-dst';
import type { Logger } from 'pino';
import type { ProxyRequest, ProxyResponse } from '../http/exchange.ts';
import { isGrpcContentType, parseGrpcTimeout } from '../http/grpc.ts';
import { guarded } from '../http/guarded.ts';
import { closeH2Connections, createH2Server, DEFAULT_H2_LIMITS, type H2Limits, handToH2 } from '../http/h2-server.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { DOWNSTREAM_DISCONNECT, type ProxyError, RESPONSE_FLAG } from '../http/proxy-error.ts';
import { Outcome, type OutcomeListener, type RequestOutcome } from '../http/request-outcome.ts';
import { type RequestTarget, requestTarget } from '../http/request-target.ts';
import { noteProxyError, sendProxyError } from '../http/synthetic-response.ts';
import { Http1Server } from '../http1/http1-server.ts';
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from '../http1/limits.ts';
import { hostWithoutPort } from '../routing/route-table.ts';
import type { TcpProxy } from '../tcp/tcp-proxy.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { Interception } from './interception.ts';
import { OutboundRequest } from './outbound-request.ts';
import { createOutboundTunnels } from './outbound-tunnels.ts';
import { classifyDirect, classifyRedirected, detectProtocol } from './protocol-detection.ts';

export interface OutboundServerOptions {
  readonly config: AppliedConfig;
  readonly log: Logger;
  /** Begins a record per request and rewrites trace headers; the record rides on the Outcome. */
  readonly telemetry?: Telemetry | undefined;
  /** Called once per request when it is over (telemetry finishes its record here). */
  readonly onOutcome?: OutcomeListener | undefined;
  /** On-demand discovery: asks the control plane about a host without a route; a promise
   * means "wait for its answer, then route again". */
  readonly onDemand?: (host: string) => Promise<void> | undefined;
  /** Transparent interception: redirected connections and where they were going. */
  readonly interception?: Interception;
  /** Limits that protect the listener from clients (defaults: DEFAULT_HTTP1_LIMITS). */
  readonly limits?: Http1Limits | undefined;
  /** Opaque TCP over mTLS, for CONNECT tunnels (refused without it). */
  readonly tcp?: TcpProxy | undefined;
  /** HTTP/2 settings and idle timeout of the listener. */
  readonly h2Limits?: H2Limits;
}

/** The listening socket, with what shutdown needs of the connections it accepted. */
export interface OutboundServer extends NetServer {
  /** Connections with nothing in flight close now, the others after their response. */
  closeIdleConnections(): void;
  /** Every connection is cut. */
  closeAllConnections(): void;
}

export function createOutboundServer(options: OutboundServerOptions): OutboundServer {
  const { config, telemetry } = options;
  const log = options.log.child({ component: 'outbound' });
  const listener = options.onOutcome;
  const done = (outcome: RequestOutcome) => {
    if (outcome.flags !== '') log.debug({ outcome }, 'request failed in the proxy');
    listener?.(outcome);
  };
  const fail = (res: ProxyResponse, outcome: Outcome, error: ProxyError) => {
    outcome.flags = RESPONSE_FLAG[error.kind];
    noteProxyError(outcome, res, error);
    outcome.responseBytes = sendProxyError(res, error);
    outcome.end(performance.now());
    done(outcome);
  };

  const interception = options.interception;
  const limits = options.limits ?? DEFAULT_HTTP1_LIMITS;

  /** Routes by `host`: the request's, or on a redirected connection the destination's IP. */
  const send = (
    req: ProxyRequest,
    res: ProxyResponse,
    outcome: Outcome,
    target: RequestTarget,
    host: string,
    destination: OriginalDestination | undefined,
    discovered: boolean,
  ) => {
    const table = config.outboundRoutes;
    const route = table?.match(host, target.pathname, req.method, () => req.headers);
    if (!route) {
      const asked = discovered ? undefined : options.onDemand?.(host);
      if (!asked) {
        if (!destination) return fail(res, outcome, { kind: 'no-route', host, path: target.pathname });
        // Redirected, and the Host names nothing in the mesh: maybe the address does (a pod
        // called by a name of its own); if not, it is a destination outside the mesh.
        const address = ipHost(destination);
        if (host !== address) return send(req, res, outcome, target, address, destination, false);
        return interception?.passthrough.forward(req, res, target, destination, outcome, done);
      }
      // First use of this host: the control plane sends its routes, then we route again.
      asked.then(() => {
        if (res.destroyed) {
          // The client left while the control plane was asked: that is how it ended.
          outcome.addFlag(DOWNSTREAM_DISCONNECT);
          outcome.end(performance.now());
          done(outcome);
          return;
        }
        try {
          send(req, res, outcome, target, host, destination, true);
        } catch (error) {
          log.error({ err: error, host: target.host }, 'internal error while handling a request');
          fail(res, outcome, { kind: 'internal', message: (error as Error).message });
        }
      });
      return;
    }
    outcome.route = route.name;
    const clusterName = route.pickCluster();
    outcome.cluster = clusterName;
    const cluster = config.clusters.get(clusterName);
    if (!cluster) {
      fail(res, outcome, { kind: 'no-cluster', cluster: clusterName });
      return;
    }
    const headers = forwardRequestHeaders(req.rawHeaders, {
      clientAddress: req.connection.remoteAddress,
      host: target.absolute ? target.host : undefined,
      requestId: telemetry?.requestIdFor(outcome.telemetry),
    });
    // Once per request: every attempt goes out with these headers (one span per hop).
    if (outcome.telemetry !== undefined) (telemetry as Telemetry).routed(outcome.telemetry, headers, route.name, cluster.spec);
    const h2 = req.httpVersionMajor === 2;
    const grpc = h2 && isGrpcContentType(req.headers['content-type'] as string | undefined);
    const grpcTimeoutMs = grpc ? grpcTimeoutOf(req) : 0;
    new OutboundRequest(req, res, route, cluster, { path: target.path, headers, h2, grpc, grpcTimeoutMs }, outcome, done).start();
  };

  const handler = guarded(log, (req: ProxyRequest, res: ProxyResponse) => {
    const outcome = new Outcome('outbound', req.method, performance.now());
    if (telemetry !== undefined) outcome.telemetry = telemetry.begin(req, 'outbound', outcome.startMs);
    // HTTP/1.1 CONNECT never gets here (outbound-tunnels.ts); HTTP/2's extended CONNECT is not served.
    if (req.method === 'CONNECT')
      return fail(res, outcome, { kind: 'bad-request', message: 'CONNECT tunnels are not supported over HTTP/2' });
    const target = requestTarget(req);
    if (typeof target === 'string') return fail(res, outcome, { kind: 'bad-request', message: target });
    const destination = interception?.destinationOf(req.connection);
    // http://<pod ip>:<port>/ says nothing the destination does not say better.
    const host = destination && isIP(hostWithoutPort(target.host).replace(/^\[|\]$/g, '')) ? ipHost(destination) : target.host;
    send(req, res, outcome, target, host, destination, false);
  });

  // Upgrades (WebSocket) and CONNECT tunnels: outbound-tunnels.ts.
  const tunnels = createOutboundTunnels({ config, log, telemetry, done, onDemand: options.onDemand, interception, tcp: options.tcp });
  const http1 = new Http1Server({ limits, log, onRequest: handler, onUpgrade: tunnels });
  const h2 = createH2Server(options.h2Limits ?? DEFAULT_H2_LIMITS, log, handler);
  /** Connections still being told apart: shutdown ends them. */
  const detecting = new Set<Socket>();

  const server = createNetServer({ noDelay: true, allowHalfOpen: true }, (socket: Socket) => {
    const destination = interception?.lookup(socket);
    detecting.add(socket);
    const timeoutMs = destination ? (interception as Interception).detectTimeoutMs : limits.headersTimeoutMs;
    detectProtocol(socket, destination ? classifyRedirected : classifyDirect, timeoutMs, (protocol, seen) => {
      detecting.delete(socket);
      if (protocol === 'http1') http1.accept(socket, seen);
      else if (protocol === 'h2') handToH2(h2, socket, seen);
      else if (protocol === 'closed') return;
      // A redirected client that is not HTTP (or waits for the server to speak first).
      else if (destination) (interception as Interception).pipe(socket, destination, seen);
      // Silent for the whole headers timeout.
      else socket.destroy();
    });
  }) as OutboundServer;
  server.closeIdleConnections = () => {
    http1.closeIdleConnections();
    closeH2Connections(h2, false);
    for (const socket of detecting) socket.destroy();
    detecting.clear();
  };
  server.closeAllConnections = () => {
    http1.closeAllConnections();
    closeH2Connections(h2, true);
    for (const socket of detecting) socket.destroy();
    detecting.clear();
  };
  return server;
}

/** A gRPC request's grpc-timeout in ms; 0 when it has none (or a malformed one). */
function grpcTimeoutOf(req: ProxyRequest): number {
  const value = req.headers['grpc-timeout'];
  if (typeof value !== 'string') return 0;
  return parseGrpcTimeout(value) ?? 0;
}

/** The destination's IP as a Host names it (IPv6 in brackets): what the control plane resolves to an endpoint. */
function ipHost(destination: OriginalDestination): string {
  return destination.family === 6 ? `[${destination.address}]` : destination.address;
}
