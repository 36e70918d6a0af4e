import { describe, expect, it } from 'vitest';
import { newRequestId } from './request-id.ts';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('are version-4 UUIDs, distinct across several refills of the pool', () => {
    const ids = Array.from({ length: 1000 }, newRequestId);
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(1000);
  });

  it('have their random digits spread over all sixteen', () => {
    const ids = Array.from({ length: 512 }, newRequestId);
    // The digits that are not fixed (version, variant, dashes) are random hex: every digit
    // turns up in 512 × 30 of them, each about 960 times.
    const counts = new Map<string, number>();
    for (const id of ids) {
      for (let i = 0; i < id.length; i++) {
        if (i === 8 || i === 13 || i === 14 || i === 18 || i === 19 || i === 23) continue;
        counts.set(id[i] as string, (counts.get(id[i] as string) ?? 0) + 1);
      }
    }
    expect([...counts.keys()].sort().join('')).toBe('0123456789abcdef');
    for (const n of counts.values()) expect(n).toBeGreaterThan(700);
    // The variant digit takes all four of its values.
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']));
  });
});
