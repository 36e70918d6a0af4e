// Latency histograms as the collector keeps them: per-bucket counts over fixed upper
// bounds (ms, then +Inf). Quantiles interpolate inside the bucket, as Prometheus's
// histogram_quantile does, so an answer is always within its bucket.

/** Adds `from` into `into` (same length). */
export function addBuckets(into: number[], from: readonly number[]): void {
  for (let i = 0; i < into.length && i < from.length; i++) into[i] = (into[i] as number) + (from[i] as number);
}

/**
 * Moves counts taken over `fromBounds` onto `toBounds`: each source bucket lands in the
 * target bucket that holds its upper bound. Exact when the bounds are equal.
 */
export function rebucket(counts: readonly number[], fromBounds: readonly number[], toBounds: readonly number[]): number[] {
  const out = new Array<number>(toBounds.length + 1).fill(0);
  for (let i = 0; i < counts.length; i++) {
    const upper = i < fromBounds.length ? (fromBounds[i] as number) : Number.POSITIVE_INFINITY;
    let j = 0;
    while (j < toBounds.length && upper > (toBounds[j] as number)) j++;
    out[j] = (out[j] as number) + (counts[i] as number);
  }
  return out;
}

/** The q-quantile (0–1) in ms, or undefined without data. */
export function quantile(q: number, buckets: readonly number[], bounds: readonly number[]): number | undefined {
  let total = 0;
  for (const c of buckets) total += c;
  if (total === 0) return undefined;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i] as number;
    if (count === 0) continue;
    if (cumulative + count >= rank) {
      // The +Inf bucket has no upper bound: answer its lower one, as Prometheus does.
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + (upper - lower) * ((rank - cumulative) / count);
    }
    cumulative += count;
  }
  return bounds[bounds.length - 1];
}
