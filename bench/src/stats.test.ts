import { describe, expect, it } from 'vitest';
import { median, percentileOfSorted, quantile, ratio, spread } from './stats.ts';

describe('median', () => {
  it('takes the middle of an odd count, whatever the order', () => {
    expect(median([9, 1, 5])).toBe(5);
  });
  it('averages the middle two of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('is NaN for no values', () => {
    expect(median([])).toBeNaN();
  });
});

describe('spread', () => {
  it('gives median, min, max and count, ignoring non-finite values', () => {
    expect(spread([3, Number.NaN, 1, 2, Number.POSITIVE_INFINITY])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
  });
  it('is undefined when nothing was measured', () => {
    expect(spread([Number.NaN])).toBeUndefined();
  });
});

describe('quantile', () => {
  it('interpolates between the nearest ranks, whatever the order', () => {
    expect(quantile([4, 1, 3, 2], 0.25)).toBe(1.75);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([5, 1, 3], 0.75)).toBe(4);
  });
  it('is the minimum at 0 and the maximum at 1, NaN for no values', () => {
    expect(quantile([7, 2, 9], 0)).toBe(2);
    expect(quantile([7, 2, 9], 1)).toBe(9);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('percentileOfSorted', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  it('uses nearest rank', () => {
    expect(percentileOfSorted(values, 50)).toBe(50);
    expect(percentileOfSorted(values, 99)).toBe(99);
    expect(percentileOfSorted(values, 100)).toBe(100);
    expect(percentileOfSorted([7, 8], 50)).toBe(7);
    expect(percentileOfSorted([7, 8], 51)).toBe(8);
  });
  it('clamps p0 to the smallest value', () => {
    expect(percentileOfSorted(values, 0)).toBe(1);
  });
});

describe('ratio', () => {
  it('divides', () => {
    expect(ratio(3, 4)).toBe(0.75);
  });
  it('is undefined when a side is missing or the divisor is zero', () => {
    expect(ratio(undefined, 4)).toBeUndefined();
    expect(ratio(3, 0)).toBeUndefined();
    expect(ratio(Number.NaN, 1)).toBeUndefined();
  });
});
