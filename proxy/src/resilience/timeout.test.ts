import { describe, expect, it } from 'vitest';
import { attemptTimer, remainingMs } from './timeout.ts';

describe('attemptTimer', () => {
  it('runs unbounded when neither timeout is set', () => {
    expect(attemptTimer(100, 0, 0)).toBeUndefined();
  });

  it('uses the per-try timeout when it ends before the route deadline', () => {
    expect(attemptTimer(100, 1100, 300)).toEqual({ kind: 'per-try', ms: 300 });
    expect(attemptTimer(100, 0, 300)).toEqual({ kind: 'per-try', ms: 300 });
  });

  it('uses what is left of the route deadline otherwise', () => {
    expect(attemptTimer(900, 1100, 300)).toEqual({ kind: 'route', ms: 200 });
    expect(attemptTimer(100, 1100, 0)).toEqual({ kind: 'route', ms: 1000 });
    expect(attemptTimer(1200, 1100, 0)).toEqual({ kind: 'route', ms: 0 });
  });

  it('reports the time left for a backoff', () => {
    expect(remainingMs(100, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(remainingMs(100, 350)).toBe(250);
  });
});
