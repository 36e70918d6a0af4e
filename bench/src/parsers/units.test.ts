import { describe, expect, it } from 'vitest';
import { parseBytes, parseDurationMs } from './units.ts';

describe('parseDurationMs', () => {
  it.each([
    ['56.00us', 0.056],
    ['1.12ms', 1.12],
    ['2.00s', 2000],
    ['0.0004 secs', 0.4],
    ['1.50m', 90_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBeCloseTo(ms);
  });
  it('refuses what is not a duration', () => {
    expect(parseDurationMs('fast')).toBeUndefined();
  });
});

describe('parseBytes', () => {
  it('counts in 1024s as wrk and h2load do', () => {
    expect(parseBytes('800B')).toBe(800);
    expect(parseBytes('276.22KB')).toBeCloseTo(276.22 * 1024);
    expect(parseBytes('9.41MB')).toBeCloseTo(9.41 * 1024 * 1024);
  });
  it('refuses what is not a size', () => {
    expect(parseBytes('lots')).toBeUndefined();
  });
});
