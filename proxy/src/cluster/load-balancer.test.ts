import { afterEach, describe, expect, it } from 'vitest';
import { testHosts } from '../testing/test-hosts.ts';
import type { Host } from './host.ts';
import { createLoadBalancer, honoursEjection, type LbContext } from './load-balancer.ts';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

function context(count: number, panicThresholdPercent = 50): { hosts: Host[]; ctx: LbContext } {
  const t = testHosts(count);
  close = t.close;
  const ctx: LbContext = {
    hosts: t.hosts,
    ejectedCount: () => t.hosts.filter((h) => h.health.ejected).length,
    panicThresholdPercent,
  };
  return { hosts: t.hosts, ctx };
}

function picks(lb: ReturnType<typeof createLoadBalancer>, n: number, hash = -1, avoid?: Host[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const host = lb.pick(hash, avoid);
    const key = host?.address ?? 'none';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('load balancers', () => {
  it('least-request prefers the host with fewer requests in flight', () => {
    const { hosts, ctx } = context(2);
    (hosts[0] as Host).upstream.inflight = 5;
    const counts = picks(createLoadBalancer('least-request', ctx), 100);
    expect(counts.get((hosts[1] as Host).address)).toBe(100);
  });

  it('skips ejected hosts and hosts this request already tried, relaxing the latter first', () => {
    const { hosts, ctx } = context(3);
    const [a, b, c] = hosts as [Host, Host, Host];
    a.health.ejected = true;
    for (const policy of ['least-request', 'round-robin', 'ring-hash'] as const) {
      const lb = createLoadBalancer(policy, ctx);
      expect(picks(lb, 200).has(a.address)).toBe(false);
      expect([...picks(lb, 50, -1, [b]).keys()]).toEqual([c.address]);
      // Every usable host was tried: trying one again beats failing.
      expect(picks(lb, 50, -1, [b, c]).has('none')).toBe(false);
    }
  });

  it('ignores ejections below the panic threshold, and fails when there is no panic mode', () => {
    const { hosts, ctx } = context(3);
    const [a, b, c] = hosts as [Host, Host, Host];
    a.health.ejected = true;
    b.health.ejected = true;
    expect(honoursEjection(ctx)).toBe(false); // 33 % healthy < 50 %
    expect(picks(createLoadBalancer('least-request', ctx), 300).size).toBe(3);
    const strict = { ...ctx, panicThresholdPercent: 0 };
    c.health.ejected = true;
    expect(picks(createLoadBalancer('round-robin', strict), 10).get('none')).toBe(10);
  });

  it('round robin takes turns', () => {
    const { ctx } = context(3);
    const counts = picks(createLoadBalancer('round-robin', ctx), 300);
    expect([...counts.values()]).toEqual([100, 100, 100]);
  });

  it('ring hash sends one key to one host, and a missing key anywhere', () => {
    const { ctx } = context(3);
    const lb = createLoadBalancer('ring-hash', ctx);
    expect(picks(lb, 50, 123456789).size).toBe(1);
    expect(picks(lb, 300, -1).size).toBe(3);
  });

  it('has nothing to pick from an empty cluster', () => {
    const { ctx } = context(0);
    for (const policy of ['least-request', 'round-robin', 'ring-hash'] as const)
      expect(createLoadBalancer(policy, ctx).pick(-1, undefined)).toBeUndefined();
  });
});
