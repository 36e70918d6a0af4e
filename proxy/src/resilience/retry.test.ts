import { describe, expect, it } from 'vitest';
import { isIdempotent, mayResend, RETRY_ON, type RetryPolicy, retriesFailure, retriesStatus } from './retry.ts';

function policy(retryOn: number, extra: Partial<RetryPolicy> = {}): RetryPolicy {
  return {
    maxRetries: 2,
    perTryTimeoutMs: 0,
    retryOn,
    retriableStatusCodes: [],
    backoff: { baseMs: 25, maxMs: 250 },
    retryNonIdempotent: false,
    maxRequestBytes: 65536,
    ...extra,
  };
}

describe('retry conditions', () => {
  it('5xx covers every 5xx and every failure without a response', () => {
    const p = policy(RETRY_ON['server-error']);
    expect([500, 501, 503, 599].every((s) => retriesStatus(p, s, -1))).toBe(true);
    expect(retriesStatus(p, 429, -1)).toBe(false);
    expect(retriesFailure(p, 'connect-failure') && retriesFailure(p, 'reset') && retriesFailure(p, 'timeout')).toBe(true);
  });

  it('gateway-error covers 502, 503, 504 and failures without a response', () => {
    const p = policy(RETRY_ON['gateway-error']);
    expect([500, 502, 503, 504, 505].map((s) => retriesStatus(p, s, -1))).toEqual([false, true, true, true, false]);
    expect(retriesFailure(p, 'reset')).toBe(true);
  });

  it('connect-failure covers nothing else', () => {
    const p = policy(RETRY_ON['connect-failure']);
    expect(retriesFailure(p, 'connect-failure')).toBe(true);
    expect(retriesFailure(p, 'reset')).toBe(false);
    expect(retriesFailure(p, 'timeout')).toBe(false);
    expect(retriesStatus(p, 503, -1)).toBe(false);
  });

  it('retries listed status codes and gRPC statuses from the headers', () => {
    const p = policy(RETRY_ON['grpc-unavailable'] | RETRY_ON['grpc-resource-exhausted'], { retriableStatusCodes: [409, 429] });
    expect(retriesStatus(p, 409, -1)).toBe(true);
    expect(retriesStatus(p, 200, 14)).toBe(true);
    expect(retriesStatus(p, 200, 8)).toBe(true);
    expect(retriesStatus(p, 200, 4)).toBe(false);
    expect(retriesStatus(p, 200, -1)).toBe(false);
  });
});

describe('which requests may be sent again', () => {
  it('knows the idempotent methods of RFC 9110', () => {
    expect(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'].every(isIdempotent)).toBe(true);
    expect(['POST', 'PATCH', 'CONNECT'].some(isIdempotent)).toBe(false);
  });

  it('resends a POST only after a connect failure, unless the route allows more', () => {
    const p = policy(RETRY_ON['server-error']);
    expect(mayResend(p, 'POST', undefined)).toBe(false);
    expect(mayResend(p, 'POST', 'reset')).toBe(false);
    expect(mayResend(p, 'POST', 'connect-failure')).toBe(true);
    expect(mayResend(policy(RETRY_ON['server-error'], { retryNonIdempotent: true }), 'POST', 'reset')).toBe(true);
  });
});
