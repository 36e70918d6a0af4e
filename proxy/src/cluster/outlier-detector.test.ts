import { afterEach, describe, expect, it } from 'vitest';
import { testHosts } from '../testing/test-hosts.ts';
import type { Host } from './host.ts';
import {
  ejectionTimeMs,
  mayEject,
  type OutlierDetectionSpec,
  OutlierDetector,
  type OutlierEvent,
  successRateThreshold,
} from './outlier-detector.ts';

const spec: OutlierDetectionSpec = {
  consecutive5xx: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 1000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 50,
  successRate: undefined,
};

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

function setup(count: number, s: OutlierDetectionSpec = spec) {
  const t = testHosts(count);
  close = t.close;
  const clock = { now: 0 };
  const events: OutlierEvent[] = [];
  const detector = new OutlierDetector(
    s,
    (e) => events.push(e),
    () => clock.now,
  );
  detector.setHosts(t.hosts);
  return { hosts: t.hosts as [Host, Host, Host, ...Host[]], detector, clock, events };
}

describe('OutlierDetector', () => {
  it('ejects an endpoint at its 5th consecutive 5xx, not before, and a success resets the count', () => {
    const { hosts, detector, events } = setup(3);
    const [a] = hosts;
    for (let i = 0; i < 4; i++) detector.reportStatus(a, 503);
    detector.reportStatus(a, 200);
    for (let i = 0; i < 4; i++) detector.reportStatus(a, 500);
    expect(a.health.ejected).toBe(false);
    detector.reportStatus(a, 500);
    expect(a.health.ejected).toBe(true);
    expect(detector.ejectedCount).toBe(1);
    expect(events).toEqual([{ kind: 'ejected', host: a.address, reason: 'consecutive-5xx', forMs: 30_000, ejections: 1 }]);
  });

  it('counts failures without a response as 5xx and as gateway errors', () => {
    const { hosts, detector } = setup(3, { ...spec, consecutive5xx: 0, consecutiveGatewayErrors: 3 });
    const [a, b] = hosts;
    detector.reportFailure(a);
    detector.reportStatus(a, 502);
    detector.reportFailure(a);
    expect(a.health.ejected).toBe(true);
    // A 500 is not a gateway error: it breaks the run.
    detector.reportStatus(b, 503);
    detector.reportStatus(b, 500);
    detector.reportStatus(b, 504);
    detector.reportStatus(b, 503);
    expect(b.health.ejected).toBe(false);
  });

  it('returns an endpoint at the first interval after its ejection time, and lengthens repeated ejections', () => {
    const { hosts, detector, clock, events } = setup(3);
    const [a] = hosts;
    const fail = () => {
      for (let i = 0; i < 5; i++) detector.reportStatus(a, 500);
    };
    fail();
    clock.now = 29_999;
    detector.tick();
    expect(a.health.ejected).toBe(true);
    clock.now = 30_000;
    detector.tick();
    expect(a.health.ejected).toBe(false);
    expect(events.at(-1)).toEqual({ kind: 'returned', host: a.address });
    fail();
    expect(a.health.ejectedForMs).toBe(60_000);
    clock.now = 30_000 + 60_000;
    detector.tick();
    expect(a.health.ejected).toBe(false);
    // Healthy for a base ejection time: the multiplier steps back down.
    clock.now += 30_000;
    detector.tick();
    expect(a.health.ejections).toBe(1);
  });

  it('never ejects more than max ejection percent, but always allows one', () => {
    expect(mayEject(0, 3, 10)).toBe(true);
    expect(mayEject(1, 3, 34)).toBe(false);
    expect(mayEject(1, 4, 50)).toBe(true);
    expect(mayEject(2, 4, 50)).toBe(false);
    expect(mayEject(1, 1, 100)).toBe(false);
    const { hosts, detector, events } = setup(3, { ...spec, maxEjectionPercent: 34 });
    for (const host of hosts.slice(0, 2)) for (let i = 0; i < 5; i++) detector.reportStatus(host, 500);
    expect(detector.ejectedCount).toBe(1);
    expect(events.map((e) => e.kind)).toEqual(['ejected', 'ejection-skipped']);
  });

  it('caps the ejection time at the maximum', () => {
    expect(ejectionTimeMs({ baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000 }, 20)).toBe(300_000);
    expect(ejectionTimeMs({ baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 10_000 }, 2)).toBe(30_000);
  });

  it('ejects by success rate below mean − factor·stdev at the interval', () => {
    expect(successRateThreshold([1, 1, 1, 0.5], 1)).toBeCloseTo(0.875 - Math.sqrt(0.046875), 10);
    const { hosts, detector } = setup(5, {
      ...spec,
      consecutive5xx: 0,
      successRate: { minimumHosts: 5, requestVolume: 10, stdevFactor: 1.9 },
    });
    hosts.forEach((host, i) => {
      for (let r = 0; r < 100; r++) detector.reportStatus(host, i === 4 && r % 2 === 0 ? 500 : 200);
    });
    detector.tick();
    expect(hosts.map((h) => h.health.ejected)).toEqual([false, false, false, false, true]);
  });

  it('skips the success-rate sweep below the minimum number of hosts with enough requests', () => {
    const { hosts, detector } = setup(5, {
      ...spec,
      consecutive5xx: 0,
      successRate: { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 },
    });
    hosts.forEach((host, i) => {
      for (let r = 0; r < (i === 0 ? 50 : 100); r++) detector.reportStatus(host, i === 4 ? 500 : 200);
    });
    detector.tick();
    expect(detector.ejectedCount).toBe(0);
  });

  it('returns every endpoint when detection is switched off', () => {
    const { hosts, detector } = setup(3);
    for (let i = 0; i < 5; i++) detector.reportStatus(hosts[0], 500);
    detector.configure(undefined);
    expect(hosts[0].health.ejected).toBe(false);
    expect(detector.ejectedCount).toBe(0);
  });
});
