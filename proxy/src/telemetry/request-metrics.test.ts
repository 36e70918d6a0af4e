import { describe, expect, it } from 'vitest';
import { bucketIndex, LATENCY_BOUNDS_MS, RequestMetrics } from './request-metrics.ts';
import { RequestRecord } from './request-record.ts';

function record(status: number, durationMs: number, destination = 'orders'): RequestRecord {
  const r = new RequestRecord('outbound', 0);
  r.sourceService = 'web';
  r.destinationService = destination;
  r.status = status;
  r.durationMs = durationMs;
  r.responseBytes = 10;
  return r;
}

describe('request metrics', () => {
  it('puts a latency in the bucket whose upper bound holds it', () => {
    expect(bucketIndex(0.2)).toBe(0);
    expect(bucketIndex(0.5)).toBe(0);
    expect(bucketIndex(0.6)).toBe(1);
    expect(bucketIndex(7)).toBe(LATENCY_BOUNDS_MS.indexOf(10));
    expect(bucketIndex(1e9)).toBe(LATENCY_BOUNDS_MS.length);
    // Every value near each bound, short ones (looked up) and long ones (searched) alike.
    const firstHolding = (ms: number) => {
      const i = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
      return i < 0 ? LATENCY_BOUNDS_MS.length : i;
    };
    for (const bound of [0, ...LATENCY_BOUNDS_MS]) {
      for (const ms of [bound - 1e-9, bound, bound + 1e-9, bound + 0.25, bound * 1.5]) {
        if (ms >= 0) expect([ms, bucketIndex(ms)]).toEqual([ms, firstHolding(ms)]);
      }
    }
  });

  it('keeps one series per label set and hands out each count once as a delta', () => {
    const m = new RequestMetrics();
    for (let i = 0; i < 100; i++) m.observe(record(200, 3));
    for (let i = 0; i < 7; i++) m.observe(record(503, 40));
    expect(m.size).toBe(2);
    const first = m.takeDeltas();
    expect(first.map((d) => [d.labels.statusCode, d.requests, d.responseBytes])).toEqual([
      [200, 100, 1000],
      [503, 7, 70],
    ]);
    expect(first[0]?.buckets[bucketIndex(3)]).toBe(100);
    expect(m.takeDeltas()).toEqual([]);
    m.observe(record(200, 3));
    const second = m.takeDeltas();
    expect(second.map((d) => [d.labels.statusCode, d.requests])).toEqual([[200, 1]]);
    // Cumulative values (what /metrics shows) are untouched by taking deltas.
    expect([...m.all()].map((s) => s.requests)).toEqual([101, 7]);
  });

  it('counts past the series limit under "overflow" instead of growing', () => {
    const m = new RequestMetrics({ maxSeries: 3 });
    for (let i = 0; i < 10; i++) m.observe(record(200, 1, `svc-${i}`));
    expect(m.size).toBe(4);
    expect(m.overflowed).toBe(7);
    expect([...m.all()].find((s) => s.labels.destinationService === 'overflow')?.requests).toBe(7);
  });
});
