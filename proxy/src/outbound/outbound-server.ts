// The outbound listener: the app's requests to other services. Request path:
// target (Host or absolute URI) → route table → weighted cluster → outbound-request.ts
// (retries, timeouts, load balancing, circuit breaking, dispatch). Failures become
// synthetic responses with a response flag; every request ends in one RequestOutcome,
// which carries the request's telemetry record (begun on arrival) to onOutcome.
// On a connection redirected here by interception (interception.ts), a request whose Host
// is an IP is routed by the connection's original destination instead, and one that names
// nothing in the mesh goes on to that destination unchanged (passthrough.ts).
// The port serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge, as gRPC clients speak
// it; http/h2-server.ts tells them apart by the first bytes): both reach the same handler,
// and an HTTP/2 request goes on over HTTP/2.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { OriginalDestination } from '@weft/original-dst';
import type { Logger } from 'pino';
import { isGrpcContentType, parseGrpcTimeout } from '../http/grpc.ts';
import { guarded } from '../http/guarded.ts';
import { acceptPriorKnowledge, connectionOf, createH2Server, DEFAULT_H2_LIMITS, type H2Limits } from '../http/h2-server.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { DEFAULT_HTTP1_LIMITS, enforceHttp1Limits, type Http1Limits, http1ServerOptions, withHttp1Limits } from '../http/http1-limits.ts';
import { DOWNSTREAM_DISCONNECT, type ProxyError, RESPONSE_FLAG } from '../http/proxy-error.ts';
import { Outcome, type OutcomeListener, type RequestOutcome } from '../http/request-outcome.ts';
import { type RequestTarget, requestHasBody, requestTarget } from '../http/request-target.ts';
import { noteProxyError, sendProxyError } from '../http/synthetic-response.ts';
import { hostWithoutPort } from '../routing/route-table.ts';
import type { TcpProxy } from '../tcp/tcp-proxy.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { Interception } from './interception.ts';
import { OutboundRequest } from './outbound-request.ts';
import { attachOutboundTunnels } from './outbound-tunnels.ts';

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

export function createOutboundServer(options: OutboundServerOptions): Server {
  const { config, telemetry } = options;
  const log = options.log.child({ component: 'outbound' });
  const listener = options.onOutcome;
  const done = (outcome: RequestOutcome) => {
    if (outcome.flags !== '') log.debug({ outcome }, 'request failed in the proxy');
    listener?.(outcome);
  };
  const fail = (res: ServerResponse, outcome: Outcome, error: ProxyError) => {
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
    req: IncomingMessage,
    res: ServerResponse,
    outcome: Outcome,
    target: RequestTarget,
    host: string,
    destination: OriginalDestination | undefined,
    discovered: boolean,
  ) => {
    const table = config.outboundRoutes;
    const route = table?.match(host, target.pathname, req.method as string, () => req.headers);
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
      clientAddress: req.socket.remoteAddress,
      host: target.absolute ? target.host : undefined,
    });
    // Once per request: every attempt goes out with these headers (one span per hop).
    if (outcome.telemetry !== undefined) (telemetry as Telemetry).routed(outcome.telemetry, headers, route.name, cluster.spec);
    const h2 = req.httpVersionMajor === 2;
    const grpc = h2 && isGrpcContentType(req.headers['content-type']);
    const grpcTimeoutMs = grpc ? grpcTimeoutOf(req) : 0;
    const request = { path: target.path, headers, hasBody: requestHasBody(req), h2, grpc, grpcTimeoutMs };
    new OutboundRequest(req, res, route, cluster, request, outcome, done).start();
  };

  const handler = guarded(log, (req: IncomingMessage, res: ServerResponse) => {
    const outcome = new Outcome('outbound', req.method as string, performance.now());
    if (telemetry !== undefined) outcome.telemetry = telemetry.begin(req, 'outbound', outcome.startMs);
    // HTTP/1.1 CONNECT never gets here (outbound-tunnels.ts); HTTP/2's extended CONNECT is not served.
    if (req.method === 'CONNECT')
      return fail(res, outcome, { kind: 'bad-request', message: 'CONNECT tunnels are not supported over HTTP/2' });
    const target = requestTarget(req);
    if (typeof target === 'string') return fail(res, outcome, { kind: 'bad-request', message: target });
    const destination = interception?.destinationOf(connectionOf(req));
    // http://<pod ip>:<port>/ says nothing the destination does not say better.
    const host = destination && isIP(hostWithoutPort(target.host).replace(/^\[|\]$/g, '')) ? ipHost(destination) : target.host;
    send(req, res, outcome, target, host, destination, false);
  });
  const server = createServer(http1ServerOptions(limits), withHttp1Limits(limits, log, handler));
  acceptPriorKnowledge(server, createH2Server(options.h2Limits ?? DEFAULT_H2_LIMITS, log, handler), limits.headersTimeoutMs);
  enforceHttp1Limits(server, limits, log);
  // Upgrades (WebSocket) and CONNECT tunnels: outbound-tunnels.ts.
  attachOutboundTunnels(server, { config, log, telemetry, done, onDemand: options.onDemand, interception, tcp: options.tcp });
  interception?.attach(server);
  return server;
}

/** A gRPC request's grpc-timeout in ms; 0 when it has none (or a malformed one). */
function grpcTimeoutOf(req: IncomingMessage): number {
  const value = req.headers['grpc-timeout'];
  if (typeof value !== 'string') return 0;
  return parseGrpcTimeout(value) ?? 0;
}

/** The destination's IP as a Host names it (IPv6 in brackets): what the control plane resolves to an endpoint. */
function ipHost(destination: OriginalDestination): string {
  return destination.family === 6 ? `[${destination.address}]` : destination.address;
}
