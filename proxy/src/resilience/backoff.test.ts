import { describe, expect, it } from 'vitest';
import { fullJitterDelayMs } from './backoff.ts';

const options = { baseMs: 25, maxMs: 250 };

describe('fullJitterDelayMs', () => {
  it('doubles the ceiling per retry from the base and caps it at max', () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6].map((n) => fullJitterDelayMs(n, options, top))).toEqual([24, 49, 99, 199, 249, 249]);
  });

  it('can wait nothing at all (full jitter starts at 0)', () => {
    expect(fullJitterDelayMs(3, options, () => 0)).toBe(0);
  });

  it('spreads delays uniformly below the ceiling', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const delays = Array.from({ length: 4000 }, () => fullJitterDelayMs(3, options, random));
    expect(Math.max(...delays)).toBeLessThan(100);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(45);
    expect(mean).toBeLessThan(54);
  });

  it('does not overflow for absurd retry counts', () => {
    expect(fullJitterDelayMs(10_000, options, () => 0.5)).toBe(125);
  });
});
