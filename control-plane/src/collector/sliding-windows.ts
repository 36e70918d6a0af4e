// Request and TCP deltas from every sidecar, placed in fixed time slots (5 s by default)
// and kept for the longest window (10 min). A window query sums the slots it covers, so
// the 1 min and 10 min views come from the same data. In memory only: Prometheus is the
// long-term store; after a restart the windows fill again.
import { addBuckets } from './latency-histogram.ts';

export type Direction = 'inbound' | 'outbound';

export interface SeriesLabels {
  readonly direction: Direction;
  readonly sourceService: string;
  readonly sourceNamespace: string;
  readonly sourceVersion: string;
  readonly sourceIdentity: string;
  readonly destinationService: string;
  readonly destinationNamespace: string;
  readonly destinationVersion: string;
  readonly destinationIdentity: string;
  readonly route: string;
  readonly statusCode: number;
  readonly responseFlags: string;
  readonly grpcStatus: string;
}

export interface RequestDelta {
  readonly requests: number;
  readonly sumMs: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Per-bucket counts over the collector's bounds. */
  readonly buckets: readonly number[];
}

export interface Aggregate {
  requests: number;
  sumMs: number;
  requestBytes: number;
  responseBytes: number;
  buckets: number[];
}

export interface TcpDelta {
  readonly opened: number;
  readonly closed: number;
  readonly receivedBytes: number;
  readonly sentBytes: number;
}

interface Slot {
  readonly requests: Map<string, { labels: SeriesLabels; agg: Aggregate }>;
  readonly tcp: Map<string, { service: string; namespace: string; direction: Direction; delta: TcpDelta }>;
}

export interface WindowOptions {
  readonly bounds: readonly number[];
  readonly slotMs?: number;
  readonly retainMs?: number;
  readonly now?: () => number;
}

export class SlidingWindows {
  readonly bounds: readonly number[];
  readonly slotMs: number;
  readonly retainMs: number;
  readonly #now: () => number;
  readonly #slots = new Map<number, Slot>();
  /** When this collector started counting: rates divide by the time actually covered. */
  readonly since: number;

  constructor(options: WindowOptions) {
    this.bounds = options.bounds;
    this.slotMs = options.slotMs ?? 5000;
    this.retainMs = options.retainMs ?? 600_000;
    this.#now = options.now ?? Date.now;
    this.since = this.#now();
  }

  now(): number {
    return this.#now();
  }

  addRequests(atMs: number, labels: SeriesLabels, delta: RequestDelta): void {
    const slot = this.#slotFor(atMs);
    const key = seriesKey(labels);
    let entry = slot.requests.get(key);
    if (!entry) {
      entry = { labels, agg: emptyAggregate(this.bounds.length + 1) };
      slot.requests.set(key, entry);
    }
    addInto(entry.agg, delta);
  }

  addTcp(atMs: number, service: string, namespace: string, direction: Direction, delta: TcpDelta): void {
    const slot = this.#slotFor(atMs);
    const key = `${namespace}/${service}/${direction}`;
    const entry = slot.tcp.get(key);
    if (!entry) {
      slot.tcp.set(key, { service, namespace, direction, delta: { ...delta } });
      return;
    }
    entry.delta = {
      opened: entry.delta.opened + delta.opened,
      closed: entry.delta.closed + delta.closed,
      receivedBytes: entry.delta.receivedBytes + delta.receivedBytes,
      sentBytes: entry.delta.sentBytes + delta.sentBytes,
    };
  }

  /** Every series summed over the last `windowMs`. */
  requests(windowMs: number): { labels: SeriesLabels; agg: Aggregate }[] {
    const merged = new Map<string, { labels: SeriesLabels; agg: Aggregate }>();
    for (const [, slot] of this.#covered(windowMs)) {
      for (const [key, { labels, agg }] of slot.requests) {
        let entry = merged.get(key);
        if (!entry) {
          entry = { labels, agg: emptyAggregate(this.bounds.length + 1) };
          merged.set(key, entry);
        }
        addInto(entry.agg, agg);
      }
    }
    return [...merged.values()];
  }

  tcp(windowMs: number): { service: string; namespace: string; direction: Direction; delta: TcpDelta }[] {
    const merged = new Map<string, { service: string; namespace: string; direction: Direction; delta: TcpDelta }>();
    for (const [, slot] of this.#covered(windowMs)) {
      for (const [key, e] of slot.tcp) {
        const m = merged.get(key);
        if (!m) merged.set(key, { ...e, delta: { ...e.delta } });
        else {
          m.delta = {
            opened: m.delta.opened + e.delta.opened,
            closed: m.delta.closed + e.delta.closed,
            receivedBytes: m.delta.receivedBytes + e.delta.receivedBytes,
            sentBytes: m.delta.sentBytes + e.delta.sentBytes,
          };
        }
      }
    }
    return [...merged.values()];
  }

  /** Each slot in the window, oldest first, with its series (charts). */
  timeline(windowMs: number): { startMs: number; series: { labels: SeriesLabels; agg: Aggregate }[] }[] {
    return this.#covered(windowMs).map(([index, slot]) => ({ startMs: index * this.slotMs, series: [...slot.requests.values()] }));
  }

  /** Seconds the window really covers (shorter right after a start). */
  coveredSeconds(windowMs: number): number {
    const now = this.#now();
    return Math.max(1, Math.min(windowMs, now - this.since)) / 1000;
  }

  #covered(windowMs: number): [number, Slot][] {
    const now = this.#now();
    this.#prune(now);
    const first = Math.floor((now - windowMs) / this.slotMs) + 1;
    return [...this.#slots.entries()].filter(([index]) => index >= first).sort((a, b) => a[0] - b[0]);
  }

  #slotFor(atMs: number): Slot {
    const now = this.#now();
    // A sidecar's clock may be ahead, or its batch older than what we keep: clamp.
    const t = Math.min(now, Math.max(atMs, now - this.retainMs + this.slotMs));
    const index = Math.floor(t / this.slotMs);
    let slot = this.#slots.get(index);
    if (!slot) {
      slot = { requests: new Map(), tcp: new Map() };
      this.#slots.set(index, slot);
      this.#prune(now);
    }
    return slot;
  }

  #prune(now: number): void {
    const oldest = Math.floor((now - this.retainMs) / this.slotMs);
    for (const index of this.#slots.keys()) if (index <= oldest) this.#slots.delete(index);
  }
}

export function emptyAggregate(buckets: number): Aggregate {
  return { requests: 0, sumMs: 0, requestBytes: 0, responseBytes: 0, buckets: new Array<number>(buckets).fill(0) };
}

export function addInto(into: Aggregate, from: RequestDelta | Aggregate): void {
  into.requests += from.requests;
  into.sumMs += from.sumMs;
  into.requestBytes += from.requestBytes;
  into.responseBytes += from.responseBytes;
  addBuckets(into.buckets, from.buckets);
}

function seriesKey(l: SeriesLabels): string {
  return [
    l.direction,
    l.sourceService,
    l.sourceNamespace,
    l.sourceVersion,
    l.sourceIdentity,
    l.destinationService,
    l.destinationNamespace,
    l.destinationVersion,
    l.destinationIdentity,
    l.route,
    l.statusCode,
    l.responseFlags,
    l.grpcStatus,
  ].join('\u0001');
}
