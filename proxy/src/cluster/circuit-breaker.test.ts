import { afterEach, describe, expect, it } from 'vitest';
import { testHosts } from '../testing/test-hosts.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import type { Host } from './host.ts';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

function hosts(n: number): Host[] {
  const t = testHosts(n);
  close = t.close;
  return t.hosts;
}

describe('CircuitBreaker', () => {
  it('refuses an attempt at max requests', () => {
    const [a] = hosts(1) as [Host];
    const breaker = new CircuitBreaker({ maxConnections: 0, maxPendingRequests: 0, maxRequests: 2, maxRetries: 0 });
    breaker.requests = 2;
    expect(breaker.admit(a.upstream, [a])).toBe('max-requests');
    breaker.requests = 1;
    expect(breaker.admit(a.upstream, [a])).toBeUndefined();
    expect(breaker.overflows['max-requests']).toBe(1);
  });

  it('limits waiting for a connection only when no idle connection is there', () => {
    const [a] = hosts(1) as [Host];
    const breaker = new CircuitBreaker({ maxConnections: 0, maxPendingRequests: 1, maxRequests: 0, maxRetries: 0 }, 1);
    breaker.pending = 1;
    expect(breaker.admit(a.upstream, [a])).toBe('max-pending-requests'); // no connection yet: it would wait
    a.upstream.connections = 1;
    expect(breaker.admit(a.upstream, [a])).toBeUndefined(); // an idle connection takes it at once
    breaker.pending = 0;
    a.upstream.inflight = 1;
    a.upstream.pending = 1;
    expect(breaker.admit(a.upstream, [a])).toBe('endpoint-max-pending-requests');
  });

  it('counts connections across the endpoints when a new one would be needed', () => {
    const [a, b] = hosts(2) as [Host, Host];
    const breaker = new CircuitBreaker({ maxConnections: 2, maxPendingRequests: 0, maxRequests: 0, maxRetries: 0 });
    a.upstream.connections = 1;
    b.upstream.connections = 1;
    a.upstream.inflight = 1;
    expect(breaker.admit(a.upstream, [a, b])).toBe('max-connections');
    expect(breaker.admit(b.upstream, [a, b])).toBeUndefined();
  });

  it('limits retries in flight', () => {
    const breaker = new CircuitBreaker({ maxConnections: 0, maxPendingRequests: 0, maxRequests: 0, maxRetries: 1 });
    expect(breaker.tryRetry()).toBe(true);
    expect(breaker.tryRetry()).toBe(false);
    breaker.releaseRetry();
    expect(breaker.tryRetry()).toBe(true);
    expect(breaker.overflows['max-retries']).toBe(1);
  });
});
