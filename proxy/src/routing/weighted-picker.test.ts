import { describe, expect, it } from 'vitest';
import { weightedPicker } from './weighted-picker.ts';

describe('weightedPicker', () => {
  it('keeps each share within a few picks of exact over any run length', () => {
    const pick = weightedPicker([
      { value: 'v1', weight: 90 },
      { value: 'v2', weight: 10 },
    ]);
    let v2 = 0;
    for (let n = 1; n <= 5000; n++) {
      if (pick() === 'v2') v2 += 1;
      expect(Math.abs(v2 - n * 0.1)).toBeLessThanOrEqual(5);
    }
  });

  it('keeps the shares in any arithmetic subsequence (no lock-step with a caller pattern)', () => {
    const pick = weightedPicker([
      { value: 'a', weight: 50 },
      { value: 'b', weight: 50 },
    ]);
    let evenA = 0;
    for (let n = 0; n < 2000; n++) if (pick() === 'a' && n % 2 === 0) evenA += 1;
    expect(evenA).toBeGreaterThan(450);
    expect(evenA).toBeLessThan(550);
  });

  it('never picks a zero weight and refuses all-zero weights', () => {
    const pick = weightedPicker([
      { value: 'a', weight: 0 },
      { value: 'b', weight: 3 },
    ]);
    for (let i = 0; i < 100; i++) expect(pick()).toBe('b');
    expect(() => weightedPicker([{ value: 'a', weight: 0 }])).toThrow(/positive weight/);
  });
});
