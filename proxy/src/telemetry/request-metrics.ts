// Request metrics: one series per bounded label set, counted on the hot path with a string
// key and a few additions, read by two consumers that never slow it down: the Prometheus
// scrape (cumulative, built by prom-client at scrape time) and the telemetry stream (deltas
// since the last batch). Owns no I/O and no timers.
import type { RequestRecord } from './request-record.ts';

/** Upper bounds of the latency buckets in ms (then +Inf); sub-ms first, for proxy hops. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  0.5, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000,
];

export interface SeriesLabels {
  readonly direction: string;
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

export class Series {
  readonly labels: SeriesLabels;
  requests = 0;
  sumMs = 0;
  requestBytes = 0;
  responseBytes = 0;
  /** Per-bucket counts (not cumulative), one per bound plus +Inf. */
  readonly buckets = new Float64Array(LATENCY_BOUNDS_MS.length + 1);
  // What the telemetry stream has already taken.
  sentRequests = 0;
  sentSumMs = 0;
  sentRequestBytes = 0;
  sentResponseBytes = 0;
  readonly sentBuckets = new Float64Array(LATENCY_BOUNDS_MS.length + 1);

  constructor(labels: SeriesLabels) {
    this.labels = labels;
  }
}

export interface SeriesDelta {
  readonly labels: SeriesLabels;
  readonly requests: number;
  readonly sumMs: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly buckets: readonly number[];
}

const SEP = '\u0001';
/** Series remembered by identity of their labels: requests come in runs of the same labels. */
const RECENT = 8;

export class RequestMetrics {
  readonly #series = new Map<string, Series>();
  /** The last series used, most recent first: found by comparing a record's fields, with no
   * key built and no string hashed (most requests find theirs here). */
  readonly #recent: Series[] = [];
  readonly #maxSeries: number;
  /** Records that found the series table full and were counted under "overflow". */
  overflowed = 0;

  constructor(options: { maxSeries?: number } = {}) {
    this.#maxSeries = options.maxSeries ?? 5000;
  }

  get size(): number {
    return this.#series.size;
  }

  observe(r: RequestRecord): void {
    const recent = this.#recent;
    let series: Series | undefined;
    for (let i = 0; i < recent.length; i++) {
      const candidate = recent[i] as Series;
      if (sameLabels(candidate.labels, r)) {
        series = candidate;
        if (i > 0) {
          recent.copyWithin(1, 0, i);
          recent[0] = candidate;
        }
        break;
      }
    }
    if (series === undefined) {
      series = this.#lookup(r);
      recent.unshift(series);
      if (recent.length > RECENT) recent.length = RECENT;
    }
    series.requests += 1;
    series.sumMs += r.durationMs;
    series.requestBytes += r.requestBytes;
    series.responseBytes += r.responseBytes;
    const b = bucketIndex(r.durationMs);
    series.buckets[b] = (series.buckets[b] as number) + 1;
  }

  #lookup(r: RequestRecord): Series {
    const key =
      r.direction +
      SEP +
      r.sourceService +
      SEP +
      r.sourceNamespace +
      SEP +
      r.sourceVersion +
      SEP +
      r.sourceIdentity +
      SEP +
      r.destinationService +
      SEP +
      r.destinationNamespace +
      SEP +
      r.destinationVersion +
      SEP +
      r.destinationIdentity +
      SEP +
      r.route +
      SEP +
      r.status +
      SEP +
      r.responseFlags +
      SEP +
      r.grpcStatus;
    return this.#series.get(key) ?? this.#create(key, r);
  }

  all(): IterableIterator<Series> {
    return this.#series.values();
  }

  /** Everything counted since the previous call, and marks it taken. */
  takeDeltas(): SeriesDelta[] {
    const out: SeriesDelta[] = [];
    for (const s of this.#series.values()) {
      if (s.requests === s.sentRequests) continue;
      const buckets: number[] = new Array(s.buckets.length);
      for (let i = 0; i < s.buckets.length; i++) {
        buckets[i] = (s.buckets[i] as number) - (s.sentBuckets[i] as number);
        s.sentBuckets[i] = s.buckets[i] as number;
      }
      out.push({
        labels: s.labels,
        requests: s.requests - s.sentRequests,
        sumMs: s.sumMs - s.sentSumMs,
        requestBytes: s.requestBytes - s.sentRequestBytes,
        responseBytes: s.responseBytes - s.sentResponseBytes,
        buckets,
      });
      s.sentRequests = s.requests;
      s.sentSumMs = s.sumMs;
      s.sentRequestBytes = s.requestBytes;
      s.sentResponseBytes = s.responseBytes;
    }
    return out;
  }

  #create(key: string, r: RequestRecord): Series {
    if (this.#series.size >= this.#maxSeries) {
      this.overflowed += 1;
      const overflowKey = `overflow${SEP}${r.direction}`;
      let overflow = this.#series.get(overflowKey);
      if (!overflow) {
        overflow = new Series(overflowLabels(r.direction));
        this.#series.set(overflowKey, overflow);
      }
      return overflow;
    }
    const series = new Series({
      direction: r.direction,
      sourceService: r.sourceService,
      sourceNamespace: r.sourceNamespace,
      sourceVersion: r.sourceVersion,
      sourceIdentity: r.sourceIdentity,
      destinationService: r.destinationService,
      destinationNamespace: r.destinationNamespace,
      destinationVersion: r.destinationVersion,
      destinationIdentity: r.destinationIdentity,
      route: r.route,
      statusCode: r.status,
      responseFlags: r.responseFlags,
      grpcStatus: r.grpcStatus,
    });
    this.#series.set(key, series);
    return series;
  }
}

/** Whether a record carries exactly these labels (an overflow series matches nothing). */
function sameLabels(l: SeriesLabels, r: RequestRecord): boolean {
  return (
    l.statusCode === r.status &&
    l.route === r.route &&
    l.destinationService === r.destinationService &&
    l.sourceService === r.sourceService &&
    l.destinationVersion === r.destinationVersion &&
    l.sourceVersion === r.sourceVersion &&
    l.responseFlags === r.responseFlags &&
    l.grpcStatus === r.grpcStatus &&
    l.direction === r.direction &&
    l.sourceNamespace === r.sourceNamespace &&
    l.destinationNamespace === r.destinationNamespace &&
    l.sourceIdentity === r.sourceIdentity &&
    l.destinationIdentity === r.destinationIdentity &&
    l.sourceService !== 'overflow'
  );
}

/** The bucket of every half millisecond up to SHORT_MS, where most of a proxy's durations
 * fall: the bounds up to there are multiples of 0.5 ms, so Math.ceil(ms * 2) picks it with no
 * search (five comparisons that a branch predictor cannot guess; a sidecar pair makes two
 * per request). */
const SHORT_MS = 5;
const SHORT_BUCKETS = Uint8Array.from({ length: SHORT_MS * 2 + 1 }, (_, halfMs) => searchBucket(halfMs / 2));

/** The index of the first bound that holds `ms` (LATENCY_BOUNDS_MS.length: +Inf). */
export function bucketIndex(ms: number): number {
  if (ms >= 0 && ms <= SHORT_MS) return SHORT_BUCKETS[Math.ceil(ms * 2)] as number;
  return searchBucket(ms);
}

function searchBucket(ms: number): number {
  const bounds = LATENCY_BOUNDS_MS;
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= (bounds[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function overflowLabels(direction: string): SeriesLabels {
  return {
    direction,
    sourceService: 'overflow',
    sourceNamespace: 'overflow',
    sourceVersion: 'overflow',
    sourceIdentity: 'overflow',
    destinationService: 'overflow',
    destinationNamespace: 'overflow',
    destinationVersion: 'overflow',
    destinationIdentity: 'overflow',
    route: 'overflow',
    statusCode: 0,
    responseFlags: 'overflow',
    grpcStatus: 'overflow',
  };
}
