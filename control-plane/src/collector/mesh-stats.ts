// What the mesh view asks of the windows: golden metrics (success rate, requests per
// second, latency percentiles) per service, per edge (source → destination) and per route.
// A service's numbers are what its sidecars received (inbound, like `linkerd viz stat`);
// an edge is what the caller's sidecar saw (it also sees failures that never reached the
// destination), plus inbound-only edges for callers without a sidecar.
import { quantile } from './latency-histogram.ts';
import { type Aggregate, addInto, emptyAggregate, type SeriesLabels, type SlidingWindows } from './sliding-windows.ts';

export interface GoldenMetrics {
  readonly requests: number;
  readonly failures: number;
  /** 0–1, or null without requests. */
  readonly successRate: number | null;
  readonly rps: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number } | null;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

export interface ServiceRef {
  readonly service: string;
  readonly namespace: string;
}

export interface ServiceStat extends ServiceRef {
  /** Connected sidecars of this service. */
  readonly meshed: number;
  readonly inbound: GoldenMetrics | null;
  readonly outbound: GoldenMetrics | null;
  readonly tcp: { readonly opened: number; readonly receivedBytes: number; readonly sentBytes: number };
}

export interface EdgeStat {
  readonly source: ServiceRef;
  readonly destination: ServiceRef;
  readonly sourceIdentities: readonly string[];
  readonly destinationIdentities: readonly string[];
  /** Which sidecar's view: the caller's (outbound) or, for unmeshed callers, the destination's. */
  readonly reporter: 'outbound' | 'inbound';
  readonly metrics: GoldenMetrics;
}

export interface RouteStat extends ServiceRef {
  readonly route: string;
  readonly metrics: GoldenMetrics;
}

/** Linkerd's classification: 5xx, no response, or a non-OK gRPC status is a failure. */
export function isSuccess(l: SeriesLabels): boolean {
  if (l.statusCode === 0 || l.statusCode >= 500) return false;
  return l.grpcStatus === '' || l.grpcStatus === '0';
}

class Group {
  readonly agg: Aggregate;
  failures = 0;
  constructor(buckets: number) {
    this.agg = emptyAggregate(buckets);
  }
  add(labels: SeriesLabels, agg: Aggregate): void {
    addInto(this.agg, agg);
    if (!isSuccess(labels)) this.failures += agg.requests;
  }
  metrics(seconds: number, bounds: readonly number[]): GoldenMetrics {
    const { requests } = this.agg;
    const p = (q: number) => round(quantile(q, this.agg.buckets, bounds) ?? 0);
    return {
      requests,
      failures: this.failures,
      successRate: requests === 0 ? null : (requests - this.failures) / requests,
      rps: round(requests / seconds),
      latencyMs: requests === 0 ? null : { p50: p(0.5), p95: p(0.95), p99: p(0.99) },
      requestBytes: this.agg.requestBytes,
      responseBytes: this.agg.responseBytes,
    };
  }
}

export function serviceStats(
  windows: SlidingWindows,
  windowMs: number,
  known: readonly (ServiceRef & { meshed: number })[],
): ServiceStat[] {
  const seconds = windows.coveredSeconds(windowMs);
  const buckets = windows.bounds.length + 1;
  const byService = new Map<string, { ref: ServiceRef; meshed: number; inbound?: Group; outbound?: Group }>();
  const entry = (service: string, namespace: string) => {
    const key = `${namespace}/${service}`;
    let e = byService.get(key);
    if (!e) {
      e = { ref: { service, namespace }, meshed: 0 };
      byService.set(key, e);
    }
    return e;
  };
  for (const k of known) entry(k.service, k.namespace).meshed = k.meshed;
  for (const { labels, agg } of windows.requests(windowMs)) {
    if (labels.direction === 'inbound') {
      const e = entry(labels.destinationService, labels.destinationNamespace);
      e.inbound ??= new Group(buckets);
      e.inbound.add(labels, agg);
    } else {
      const e = entry(labels.sourceService, labels.sourceNamespace);
      e.outbound ??= new Group(buckets);
      e.outbound.add(labels, agg);
    }
  }
  const tcp = new Map<string, { opened: number; receivedBytes: number; sentBytes: number }>();
  for (const t of windows.tcp(windowMs)) {
    if (t.direction !== 'inbound') continue;
    const key = `${t.namespace}/${t.service}`;
    const sum = tcp.get(key) ?? { opened: 0, receivedBytes: 0, sentBytes: 0 };
    sum.opened += t.delta.opened;
    sum.receivedBytes += t.delta.receivedBytes;
    sum.sentBytes += t.delta.sentBytes;
    tcp.set(key, sum);
  }
  return [...byService.entries()]
    .filter(([, e]) => e.ref.service !== 'unknown' && e.ref.service !== 'overflow')
    .map(([key, e]) => ({
      ...e.ref,
      meshed: e.meshed,
      inbound: e.inbound ? e.inbound.metrics(seconds, windows.bounds) : null,
      outbound: e.outbound ? e.outbound.metrics(seconds, windows.bounds) : null,
      tcp: tcp.get(key) ?? { opened: 0, receivedBytes: 0, sentBytes: 0 },
    }))
    .sort((a, b) => (a.namespace + a.service).localeCompare(b.namespace + b.service));
}

export function edgeStats(windows: SlidingWindows, windowMs: number): EdgeStat[] {
  const seconds = windows.coveredSeconds(windowMs);
  const buckets = windows.bounds.length + 1;
  type E = { source: ServiceRef; destination: ServiceRef; src: Set<string>; dst: Set<string>; group: Group };
  const views = { outbound: new Map<string, E>(), inbound: new Map<string, E>() };
  for (const { labels, agg } of windows.requests(windowMs)) {
    const map = views[labels.direction];
    const key = `${labels.sourceNamespace}/${labels.sourceService}>${labels.destinationNamespace}/${labels.destinationService}`;
    let e = map.get(key);
    if (!e) {
      e = {
        source: { service: labels.sourceService, namespace: labels.sourceNamespace },
        destination: { service: labels.destinationService, namespace: labels.destinationNamespace },
        src: new Set(),
        dst: new Set(),
        group: new Group(buckets),
      };
      map.set(key, e);
    }
    if (labels.sourceIdentity) e.src.add(labels.sourceIdentity);
    if (labels.destinationIdentity) e.dst.add(labels.destinationIdentity);
    e.group.add(labels, agg);
  }
  const out: EdgeStat[] = [];
  const toStat = (e: E, reporter: 'outbound' | 'inbound', extra?: E): EdgeStat => ({
    source: e.source,
    destination: e.destination,
    sourceIdentities: [...new Set([...e.src, ...(extra?.src ?? [])])].sort(),
    destinationIdentities: [...new Set([...e.dst, ...(extra?.dst ?? [])])].sort(),
    reporter,
    metrics: e.group.metrics(seconds, windows.bounds),
  });
  for (const [key, e] of views.outbound) out.push(toStat(e, 'outbound', views.inbound.get(key)));
  // Callers without a sidecar (or whose telemetry is off) are seen only by the destination.
  for (const [key, e] of views.inbound) if (!views.outbound.has(key)) out.push(toStat(e, 'inbound'));
  return out.sort((a, b) =>
    `${a.source.namespace}/${a.source.service}>${a.destination.namespace}/${a.destination.service}`.localeCompare(
      `${b.source.namespace}/${b.source.service}>${b.destination.namespace}/${b.destination.service}`,
    ),
  );
}

/** Per route, from the callers' sidecars (routes are matched on the outbound side). */
export function routeStats(windows: SlidingWindows, windowMs: number, destination?: ServiceRef): RouteStat[] {
  const seconds = windows.coveredSeconds(windowMs);
  const groups = new Map<string, { ref: ServiceRef; route: string; group: Group }>();
  for (const { labels, agg } of windows.requests(windowMs)) {
    if (labels.direction !== 'outbound' || !labels.route) continue;
    if (destination && (labels.destinationService !== destination.service || labels.destinationNamespace !== destination.namespace))
      continue;
    const key = `${labels.destinationNamespace}/${labels.destinationService}/${labels.route}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        ref: { service: labels.destinationService, namespace: labels.destinationNamespace },
        route: labels.route,
        group: new Group(windows.bounds.length + 1),
      };
      groups.set(key, g);
    }
    g.group.add(labels, agg);
  }
  return [...groups.values()]
    .map((g) => ({ ...g.ref, route: g.route, metrics: g.group.metrics(seconds, windows.bounds) }))
    .sort((a, b) => `${a.namespace}/${a.service}/${a.route}`.localeCompare(`${b.namespace}/${b.service}/${b.route}`));
}

/** Per slot of the window: one service's inbound success rate, rps and p50/p95 (charts). */
export function serviceTimeline(
  windows: SlidingWindows,
  windowMs: number,
  ref: ServiceRef,
): { t: number; requests: number; successRate: number | null; rps: number; p50: number | null; p95: number | null }[] {
  const seconds = windows.slotMs / 1000;
  return windows.timeline(windowMs).map(({ startMs, series }) => {
    const g = new Group(windows.bounds.length + 1);
    for (const { labels, agg } of series) {
      if (labels.direction === 'inbound' && labels.destinationService === ref.service && labels.destinationNamespace === ref.namespace) {
        g.add(labels, agg);
      }
    }
    const m = g.metrics(seconds, windows.bounds);
    return {
      t: startMs,
      requests: m.requests,
      successRate: m.successRate,
      rps: m.rps,
      p50: m.latencyMs?.p50 ?? null,
      p95: m.latencyMs?.p95 ?? null,
    };
  });
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
