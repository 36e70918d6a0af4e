// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"): the n-th delay is uniform in [0, min(max, base·2ⁿ⁻¹)), so clients that failed
// together do not come back together. Pure: the caller passes its random source.

export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The delay before the `n`-th retry (n ≥ 1), in whole milliseconds. */
export function fullJitterDelayMs(n: number, options: BackoffOptions, random: () => number): number {
  const exponent = Math.min(Math.max(n - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
