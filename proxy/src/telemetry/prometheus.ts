// The admin port's /metrics: a prom-client registry with the process metrics and the
// sidecar's golden metrics (names in the style of istio_requests_total and Linkerd's
// response_latency), built from RequestMetrics and TcpMetrics at scrape time only.
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';
import { LATENCY_BOUNDS_MS, type RequestMetrics, type SeriesLabels } from './request-metrics.ts';
import type { TcpMetrics } from './tcp-metrics.ts';

type Value = { value: number; labels: Record<string, string | number>; metricName?: string };
type Collected = { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; values: Value[] };

/** A metric whose values are computed when scraped; prom-client only formats it. */
function collected(name: string, help: string, type: Collected['type'], values: () => Value[]): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async (): Promise<Collected> => ({ name, help, type, values: values() }),
    reset() {},
  };
  return metric as unknown as Metric;
}

export interface ExtraCounters {
  /** Name → [help, value]. */
  readonly [name: string]: readonly [string, () => number];
}

export interface PrometheusSources {
  readonly requests: RequestMetrics;
  readonly tcp: TcpMetrics;
  readonly counters: ExtraCounters;
  readonly defaultLabels?: Record<string, string>;
}

export function createPrometheusRegistry(sources: PrometheusSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { requests, tcp } = sources;

  registry.registerMetric(
    collected('weft_requests_total', 'Requests handled by this sidecar, per hop.', 'counter', () =>
      [...requests.all()].map((s) => ({ value: s.requests, labels: labelsOf(s.labels) })),
    ),
  );
  registry.registerMetric(
    collected('weft_request_duration_seconds', 'Request duration at this hop, from first byte in to last byte out.', 'histogram', () => {
      const out: Value[] = [];
      for (const s of requests.all()) {
        const labels = labelsOf(s.labels);
        let cumulative = 0;
        for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
          cumulative += s.buckets[i] as number;
          out.push({ metricName: 'weft_request_duration_seconds_bucket', value: cumulative, labels: { ...labels, le: seconds(i) } });
        }
        out.push({ metricName: 'weft_request_duration_seconds_bucket', value: s.requests, labels: { ...labels, le: '+Inf' } });
        out.push({ metricName: 'weft_request_duration_seconds_sum', value: s.sumMs / 1000, labels });
        out.push({ metricName: 'weft_request_duration_seconds_count', value: s.requests, labels });
      }
      return out;
    }),
  );
  registry.registerMetric(
    collected('weft_request_bytes_total', 'Request body bytes received from the downstream.', 'counter', () =>
      [...requests.all()].map((s) => ({ value: s.requestBytes, labels: labelsOf(s.labels) })),
    ),
  );
  registry.registerMetric(
    collected('weft_response_bytes_total', 'Response body bytes sent to the downstream.', 'counter', () =>
      [...requests.all()].map((s) => ({ value: s.responseBytes, labels: labelsOf(s.labels) })),
    ),
  );
  const tcpMetric = (name: string, help: string, type: Collected['type'], pick: (t: ReturnType<TcpMetrics['totals']>[number]) => number) =>
    registry.registerMetric(
      collected(name, help, type, () => tcp.totals().map((t) => ({ value: pick(t), labels: { direction: t.direction } }))),
    );
  tcpMetric('weft_tcp_connections_opened_total', 'Downstream connections accepted.', 'counter', (t) => t.opened);
  tcpMetric('weft_tcp_connections_closed_total', 'Downstream connections closed.', 'counter', (t) => t.closed);
  tcpMetric('weft_tcp_connections_open', 'Downstream connections open now.', 'gauge', (t) => t.open);
  tcpMetric('weft_tcp_received_bytes_total', 'Bytes received on downstream connections.', 'counter', (t) => t.receivedBytes);
  tcpMetric('weft_tcp_sent_bytes_total', 'Bytes sent on downstream connections.', 'counter', (t) => t.sentBytes);
  for (const [name, [help, value]] of Object.entries(sources.counters)) {
    registry.registerMetric(collected(name, help, name.endsWith('_total') ? 'counter' : 'gauge', () => [{ value: value(), labels: {} }]));
  }
  if (sources.defaultLabels) registry.setDefaultLabels(sources.defaultLabels);
  return registry;
}

function seconds(i: number): string {
  return String((LATENCY_BOUNDS_MS[i] as number) / 1000);
}

function labelsOf(l: SeriesLabels): Record<string, string | number> {
  return {
    direction: l.direction,
    source_service: l.sourceService,
    source_namespace: l.sourceNamespace,
    source_version: l.sourceVersion,
    source_identity: l.sourceIdentity,
    destination_service: l.destinationService,
    destination_namespace: l.destinationNamespace,
    destination_version: l.destinationVersion,
    destination_identity: l.destinationIdentity,
    route: l.route,
    status_code: l.statusCode,
    response_flags: l.responseFlags,
    grpc_status: l.grpcStatus,
  };
}
