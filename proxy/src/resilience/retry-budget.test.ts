import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.ts';

function clock(start = 1_000_000) {
  const c = { now: start, read: () => c.now };
  return c;
}

function withdrawals(budget: RetryBudget, max = 10_000): number {
  let n = 0;
  while (n < max && budget.tryWithdraw()) n++;
  return n;
}

describe('RetryBudget', () => {
  it('allows retries up to the percentage of requests plus the reserve', () => {
    const c = clock();
    const budget = new RetryBudget({ percent: 20, minRetriesPerSecond: 1, ttlMs: 10_000 }, c.read);
    for (let i = 0; i < 100; i++) budget.deposit();
    // 20 % of 100 plus 1/s × 10 s.
    expect(withdrawals(budget)).toBe(30);
  });

  it('gives a quiet client only the reserve', () => {
    const c = clock();
    const budget = new RetryBudget({ percent: 20, minRetriesPerSecond: 10, ttlMs: 10_000 }, c.read);
    expect(withdrawals(budget)).toBe(100);
    const none = new RetryBudget({ percent: 20, minRetriesPerSecond: 0, ttlMs: 10_000 }, c.read);
    expect(withdrawals(none)).toBe(0);
  });

  it('keeps amplification under a steady 100 % failure at 1 + percent', () => {
    const c = clock();
    const budget = new RetryBudget({ percent: 20, minRetriesPerSecond: 0, ttlMs: 10_000 }, c.read);
    let attempts = 0;
    for (let i = 0; i < 10_000; i++) {
      c.now += 5; // 200 requests/s for 50 s
      budget.deposit();
      attempts += 1;
      // Each request would retry up to 3 times if the budget let it.
      for (let r = 0; r < 3 && budget.tryWithdraw(); r++) attempts += 1;
    }
    expect(attempts / 10_000).toBeGreaterThan(1.19);
    expect(attempts / 10_000).toBeLessThanOrEqual(1.2);
  });

  it('forgets requests and retries after the ttl', () => {
    const c = clock();
    const budget = new RetryBudget({ percent: 50, minRetriesPerSecond: 0, ttlMs: 1000 }, c.read);
    for (let i = 0; i < 10; i++) budget.deposit();
    expect(withdrawals(budget)).toBe(5);
    c.now += 500;
    expect(budget.tryWithdraw()).toBe(false);
    c.now += 600; // every bucket of the first burst has expired
    expect(budget.window).toEqual({ requests: 0, retries: 0 });
    expect(budget.tryWithdraw()).toBe(false);
    budget.deposit();
    budget.deposit();
    expect(withdrawals(budget)).toBe(1);
  });

  it('slides: requests from half a window ago still count', () => {
    const c = clock();
    const budget = new RetryBudget({ percent: 100, minRetriesPerSecond: 0, ttlMs: 1000 }, c.read);
    budget.deposit();
    c.now += 500;
    budget.deposit();
    expect(budget.window.requests).toBe(2);
    c.now += 550;
    expect(budget.window.requests).toBe(1);
  });
});
