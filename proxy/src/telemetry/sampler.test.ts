import { describe, expect, it } from 'vitest';
import { Sampler } from './sampler.ts';

function draws(rate: number, n: number): boolean[] {
  const sampler = new Sampler(rate);
  return Array.from({ length: n }, () => sampler.next());
}

describe('trace sampler', () => {
  it('samples none at 0 and every trace at 1', () => {
    expect(draws(0, 10_000).filter(Boolean)).toHaveLength(0);
    expect(draws(1, 10_000).every(Boolean)).toBe(true);
  });

  it('samples the configured share, at random intervals', () => {
    // Counts within 4.5 standard deviations of the expected ones (a flake about once in 150,000 runs).
    const one = draws(0.01, 200_000).filter(Boolean).length;
    expect(Math.abs(one - 2_000)).toBeLessThan(200);
    const thirty = draws(0.3, 100_000);
    expect(Math.abs(thirty.filter(Boolean).length - 30_000)).toBeLessThan(700);
    // Gaps of many lengths, as independent draws give (a counter would give one), and about as
    // often each as the geometric distribution says: a gap of 1 (two in a row) 30 % of the time.
    const gaps: number[] = [];
    let last = -1;
    thirty.forEach((sampled, i) => {
      if (!sampled) return;
      if (last >= 0) gaps.push(i - last);
      last = i;
    });
    expect(new Set(gaps).size).toBeGreaterThan(10);
    const ones = gaps.filter((gap) => gap === 1).length / gaps.length;
    expect(Math.abs(ones - 0.3)).toBeLessThan(0.02);
  });
});
