import { describe, expect, it } from 'vitest';
import { HashRing, hash32 } from './ring-hash.ts';

const names = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:15006`);
const keys = Array.from({ length: 3000 }, (_, i) => `user-${i}`);
const all = () => true;

describe('HashRing', () => {
  it('hashes deterministically to 32-bit unsigned integers', () => {
    expect(hash32('user-1')).toBe(hash32('user-1'));
    expect(hash32('user-1')).not.toBe(hash32('user-2'));
    for (const k of keys.slice(0, 50)) expect(hash32(k)).toBeGreaterThanOrEqual(0);
  });

  it('spreads keys over hosts within ±20 % of an even share', () => {
    const ring = new HashRing(names(3));
    const counts = [0, 0, 0];
    for (const k of keys) counts[ring.find(hash32(k), all)] = (counts[ring.find(hash32(k), all)] ?? 0) + 1;
    for (const c of counts) {
      expect(c).toBeGreaterThan(800);
      expect(c).toBeLessThan(1200);
    }
  });

  it('moves only the keys of a host that leaves', () => {
    const before = new HashRing(names(4));
    const after = new HashRing(names(4).slice(0, 3));
    for (const k of keys) {
      const was = before.find(hash32(k), all);
      const now = after.find(hash32(k), all);
      if (was !== 3) expect(now).toBe(was);
    }
  });

  it('walks past unusable hosts to the next one on the ring', () => {
    const ring = new HashRing(names(3));
    const h = hash32('user-7');
    const owner = ring.find(h, all);
    const next = ring.find(h, (i) => i !== owner);
    expect(next).not.toBe(owner);
    expect(next).toBeGreaterThanOrEqual(0);
    expect(ring.find(h, () => false)).toBe(-1);
    expect(new HashRing([]).find(h, all)).toBe(-1);
  });
});
