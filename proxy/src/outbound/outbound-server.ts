// The outbound listener: the app's requests to other services. Request path:
// target (Host or absolute URI) → route table → weighted cluster → load balancer →
// upstream pool → forward. Failures become synthetic responses with a response flag.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ClusterSpec } from '../cluster/cluster-manager.ts';
import { forward } from '../http/forward.ts';
import type { ForwardOutcome } from '../http/forward-handler.ts';
import { guarded } from '../http/guarded.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import type { ProxyError } from '../http/proxy-error.ts';
import { requestTarget } from '../http/request-target.ts';
import { serverTimeouts } from '../http/server-timeouts.ts';
import { sendProxyError } from '../http/synthetic-response.ts';
import type { RequestRecord } from '../telemetry/request-record.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { AppliedConfig } from '../xds/applied-config.ts';

export function createOutboundServer(options: { config: AppliedConfig; log: Logger; telemetry: Telemetry }): Server {
  const { config, telemetry } = options;
  const log = options.log.child({ component: 'outbound' });
  const fail = (res: ServerResponse, error: ProxyError, record: RequestRecord | undefined, route?: string, cluster?: ClusterSpec) => {
    log.debug({ error }, 'request failed in the proxy');
    sendProxyError(res, error);
    if (record) telemetry.failed(record, error, route, cluster);
  };
  const done = (outcome: ForwardOutcome, record: RequestRecord | undefined) => {
    if (outcome.kind === 'proxy-error') log.debug({ error: outcome.error }, 'upstream request failed');
    if (record) telemetry.forwarded(record, outcome);
  };

  return createServer(
    serverTimeouts,
    guarded(log, (req: IncomingMessage, res: ServerResponse) => {
      const record = telemetry.begin(req, 'outbound');
      if (req.method === 'CONNECT')
        return fail(res, { kind: 'bad-request', message: 'CONNECT tunnels are not supported on this listener' }, record);
      const target = requestTarget(req);
      if (typeof target === 'string') return fail(res, { kind: 'bad-request', message: target }, record);
      const table = config.outboundRoutes;
      const route = table?.match(target.host, target.pathname, req.method as string, () => req.headers);
      if (!route) return fail(res, { kind: 'no-route', host: target.host, path: target.pathname }, record);
      const clusterName = route.pickCluster();
      const cluster = config.clusters.get(clusterName);
      if (!cluster) return fail(res, { kind: 'no-cluster', cluster: clusterName }, record, route.name);
      const endpoint = cluster.lb.pick();
      if (!endpoint) return fail(res, { kind: 'no-healthy-upstream', cluster: clusterName }, record, route.name, cluster.spec);
      const headers = forwardRequestHeaders(req.rawHeaders, {
        clientAddress: req.socket.remoteAddress,
        host: target.absolute ? target.host : undefined,
      });
      if (record) telemetry.routed(record, headers, route.name, cluster.spec, endpoint);
      forward(req, res, endpoint.upstream, { path: target.path, headers, timeoutMs: route.timeoutMs, record }, done);
    }),
  );
}
