import { describe, expect, it } from 'vitest';
import { quantile, rebucket } from './latency-histogram.ts';

const bounds = [1, 2, 5, 10];

describe('latency histogram', () => {
  it('interpolates inside the bucket that holds the rank', () => {
    // 10 requests ≤ 1 ms, 10 in (1, 2], 80 in (5, 10].
    const buckets = [10, 10, 0, 80, 0];
    expect(quantile(0.1, buckets, bounds)).toBeCloseTo(1);
    expect(quantile(0.15, buckets, bounds)).toBeCloseTo(1.5);
    expect(quantile(0.5, buckets, bounds)).toBeCloseTo(5 + 5 * (30 / 80));
    expect(quantile(0.99, buckets, bounds)).toBeLessThanOrEqual(10);
    expect(quantile(0.99, buckets, bounds)).toBeGreaterThan(5);
  });

  it('answers the highest bound for the +Inf bucket and nothing without data', () => {
    expect(quantile(0.99, [0, 0, 0, 0, 3], bounds)).toBe(10);
    expect(quantile(0.5, [0, 0, 0, 0, 0], bounds)).toBeUndefined();
  });

  it('moves counts onto other bounds by their upper bound', () => {
    expect(rebucket([1, 2, 3], [1, 5], [2, 10])).toEqual([1, 2, 3]);
    expect(rebucket([1, 2, 3, 4, 5], bounds, bounds)).toEqual([1, 2, 3, 4, 5]);
  });
});
