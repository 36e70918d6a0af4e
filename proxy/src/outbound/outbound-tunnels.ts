// The outbound listener's connections that stop being HTTP: Upgrade requests (WebSocket)
// and CONNECT tunnels. An upgrade is routed like any request (route table, weighted
// cluster, load balancer) and sent to the endpoint's sidecar (http/upgrade-forward.ts),
// which checks authorization and passes it to its app. CONNECT host:port must name a mesh
// service — a tcp service, or any service the route table knows — and becomes opaque TCP
// over mTLS to one of its endpoints (tcp/tcp-proxy.ts); on a connection redirected by
// interception, a CONNECT to the original destination outside the mesh is passed through
// in plaintext; anything else is refused. Each ends in one RequestOutcome, as requests do.
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { DOWNSTREAM_DISCONNECT, type ProxyError } from '../http/proxy-error.ts';
import { Outcome, type OutcomeListener } from '../http/request-outcome.ts';
import { requestTarget } from '../http/request-target.ts';
import { forwardUpgrade, refuseUpgrade, type UpgradeRequest } from '../http/upgrade-forward.ts';
import type { UpgradeHandler } from '../http1/server-connection.ts';
import type { Http1Request } from '../http1/server-request.ts';
import { hostWithoutPort } from '../routing/route-table.ts';
import type { TcpProxy } from '../tcp/tcp-proxy.ts';
import { attempted, type Telemetry } from '../telemetry/telemetry.ts';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { Interception } from './interception.ts';

export interface OutboundTunnelsOptions {
  readonly config: AppliedConfig;
  readonly log: Logger;
  readonly telemetry: Telemetry | undefined;
  readonly done: OutcomeListener;
  readonly onDemand: ((host: string) => Promise<void> | undefined) | undefined;
  readonly interception: Interception | undefined;
  /** Opaque TCP over mTLS; without it CONNECT is refused. */
  readonly tcp: TcpProxy | undefined;
}

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

/** The outbound listener's handler of Upgrade and CONNECT requests. */
export function createOutboundTunnels(options: OutboundTunnelsOptions): UpgradeHandler {
  const { config, telemetry, done } = options;
  const log = options.log;

  const begin = (req: Http1Request): Outcome => {
    const outcome = new Outcome('outbound', req.method, performance.now());
    if (telemetry !== undefined) outcome.telemetry = telemetry.begin(req, 'outbound', outcome.startMs);
    return outcome;
  };

  const upgrade = (req: Http1Request, socket: Socket, head: Buffer, outcome: Outcome, discovered: boolean) => {
    const exchange: UpgradeRequest = { req, socket, head };
    const target = requestTarget(req);
    if (typeof target === 'string') return refuseUpgrade(exchange, outcome, { kind: 'bad-request', message: target }, done);
    const route = config.outboundRoutes?.match(target.host, target.pathname, req.method, () => req.headers);
    if (!route) {
      const asked = discovered ? undefined : options.onDemand?.(target.host);
      if (asked) {
        asked.then(() => (socket.destroyed ? abandoned(outcome) : upgrade(req, socket, head, outcome, true)));
        return;
      }
      return refuseUpgrade(exchange, outcome, { kind: 'no-route', host: target.host, path: target.pathname }, done);
    }
    outcome.route = route.name;
    const clusterName = route.pickCluster();
    outcome.cluster = clusterName;
    const cluster = config.clusters.get(clusterName);
    if (!cluster) return refuseUpgrade(exchange, outcome, { kind: 'no-cluster', cluster: clusterName }, done);
    const host = cluster.lb.pick(-1, undefined);
    if (!host) return refuseUpgrade(exchange, outcome, { kind: 'no-healthy-upstream', cluster: clusterName }, done);
    const headers = forwardRequestHeaders(req.rawHeaders, {
      clientAddress: socket.remoteAddress,
      host: target.absolute ? target.host : undefined,
    });
    if (outcome.telemetry !== undefined) {
      (telemetry as Telemetry).routed(outcome.telemetry, headers, route.name, cluster.spec);
      attempted(outcome.telemetry, host);
    }
    forwardUpgrade(exchange, host.upstream, { path: target.path, headers }, outcome, done);
  };

  const abandoned = (outcome: Outcome) => {
    outcome.addFlag(DOWNSTREAM_DISCONNECT);
    outcome.end(performance.now());
    done(outcome);
  };

  /** The cluster a CONNECT authority names: a tcp service's, else the route table's. */
  const clusterFor = (authority: string, outcome: Outcome): Cluster | undefined => {
    const host = hostWithoutPort(authority);
    for (const listener of config.tcpListeners) {
      const cluster = config.clusters.get(listener.tcp?.cluster ?? '');
      if (cluster && namesService(host, cluster.spec.service, cluster.spec.namespace)) return cluster;
    }
    const route = config.outboundRoutes?.match(authority, '/', 'CONNECT', () => ({}));
    if (!route) return undefined;
    outcome.route = route.name;
    return config.clusters.get(route.pickCluster());
  };

  const tunnel = (req: Http1Request, socket: Socket, head: Buffer, outcome: Outcome, discovered: boolean) => {
    const exchange: UpgradeRequest = { req, socket, head };
    const authority = req.url;
    if (!/^[^\s/@]+:\d{1,5}$/.test(authority))
      return refuseUpgrade(
        exchange,
        outcome,
        { kind: 'bad-request', message: `CONNECT needs host:port, got "${authority.slice(0, 100)}"` },
        done,
      );
    const cluster = clusterFor(authority, outcome);
    if (!cluster) {
      const asked = discovered ? undefined : options.onDemand?.(hostWithoutPort(authority));
      if (asked) {
        asked.then(() => (socket.destroyed ? abandoned(outcome) : tunnel(req, socket, head, outcome, true)));
        return;
      }
      const destination = options.interception?.destinationOf(socket);
      if (destination && sameAddress(authority, destination.address, destination.port)) return passthrough(exchange, outcome, destination);
      log.debug({ peer: socket.remoteAddress, authority }, 'CONNECT to a host outside the mesh refused');
      return refuseUpgrade(exchange, outcome, { kind: 'no-route', host: authority, path: '' }, done);
    }
    outcome.cluster = cluster.name;
    const tcp = options.tcp;
    if (!tcp) return refuseUpgrade(exchange, outcome, { kind: 'internal', message: 'opaque TCP is not available' }, done);
    if (outcome.telemetry !== undefined) (telemetry as Telemetry).routed(outcome.telemetry, [], outcome.route, cluster.spec);
    socket.pause();
    tcp.open(cluster, (result) => {
      if (!result.ok) {
        const error: ProxyError =
          result.code === 'UH'
            ? { kind: 'no-healthy-upstream', cluster: cluster.name }
            : { kind: 'upstream-connect-failure', upstream: result.message, code: result.code };
        return refuseUpgrade(exchange, outcome, error, done);
      }
      outcome.attempts = 1;
      outcome.upstreamAddress = result.host.address;
      if (outcome.telemetry !== undefined) attempted(outcome.telemetry, result.host);
      if (socket.destroyed) {
        result.socket.destroy();
        return abandoned(outcome);
      }
      established(socket, head, result.socket, outcome);
      tcp.join(socket, result.socket, (spliced) => {
        outcome.responseBytes = spliced.bToA;
        outcome.end(performance.now());
        done(outcome);
      });
    });
  };

  const established = (socket: Duplex, head: Buffer, upstream: Duplex, outcome: Outcome) => {
    outcome.status = 200;
    outcome.upstreamMs = performance.now() - outcome.startMs;
    outcome.responseStartMs = outcome.upstreamMs;
    socket.write(ESTABLISHED);
    if (head.length > 0) upstream.write(head);
  };

  const passthrough = (exchange: UpgradeRequest, outcome: Outcome, destination: { address: string; port: number }) => {
    const upstream = netConnect({ host: destination.address, port: destination.port, allowHalfOpen: true });
    outcome.attempts = 1;
    outcome.upstreamAddress = `${destination.address}:${destination.port}`;
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      if (outcome.status !== 0) return;
      refuseUpgrade(
        exchange,
        outcome,
        { kind: 'upstream-connect-failure', upstream: outcome.upstreamAddress, code: error.code ?? 'ERROR' },
        done,
      );
    });
    upstream.once('connect', () => {
      established(exchange.socket, exchange.head, upstream, outcome);
      options.tcp?.join(exchange.socket, upstream, (spliced) => {
        outcome.responseBytes = spliced.bToA;
        outcome.end(performance.now());
        done(outcome);
      });
    });
  };

  // The request boundary for these as for requests (http/guarded.ts): a bug closes one connection.
  return (req: Http1Request, socket: Socket, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const connect = req.method === 'CONNECT';
    try {
      (connect ? tunnel : upgrade)(req, socket, head, begin(req), false);
    } catch (error) {
      log.error({ err: error, url: req.url }, `internal error while handling ${connect ? 'CONNECT' : 'an upgrade'}`);
      socket.destroy();
    }
  };
}

/** Whether `host` (lower case, no port) is one of the names the mesh gives the service. */
function namesService(host: string, service: string, namespace: string): boolean {
  if (host === service) return true;
  if (!host.startsWith(`${service}.${namespace}`)) return false;
  const rest = host.slice(service.length + namespace.length + 1);
  return rest === '' || rest === '.svc' || rest === '.svc.cluster.local';
}

function sameAddress(authority: string, address: string, port: number): boolean {
  const host = hostWithoutPort(authority).replace(/^\[|\]$/g, '');
  return host === address && authority.endsWith(`:${port}`);
}
