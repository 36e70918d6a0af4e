import { describe, expect, it } from 'vitest';
import { latencyFromH2loadLog, parseH2load } from './h2load.ts';

// Printed by h2load (nghttp2 1.52) on this machine, gRPC over h2c.
const REPORT = `starting benchmark...
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 28284.50 req/s, 4.45MB/s
requests: 56569 total, 56585 started, 56569 done, 56569 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 56569 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 8.90MB (9334068) total, 5.83MB (6109452) headers (space savings 40.00%), 276.22KB (282845) data
                     min         max         mean         sd        +/- sd
time for request:       53us     10.16ms       555us       298us    86.35%
`;

describe('parseH2load', () => {
  it('reads throughput and counts', () => {
    const result = parseH2load(REPORT);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.rps).toBe(28284.5);
    expect(result.value.transferBytesPerS).toBeCloseTo(4.45 * 1024 * 1024);
    expect(result.value.done).toBe(56569);
    expect(result.value.errors).toBe(0);
  });

  it('counts non-2xx responses and failed requests as errors', () => {
    const bad = REPORT.replace('56569 succeeded, 0 failed', '56500 succeeded, 69 failed').replace(
      'status codes: 56569 2xx, 0 3xx, 0 4xx, 0 5xx',
      'status codes: 56400 2xx, 0 3xx, 0 4xx, 169 5xx',
    );
    const result = parseH2load(bad);
    expect(result.ok && result.value.errors).toBe(169);
  });

  it('refuses output without a result', () => {
    expect(parseH2load('connect() failed\nNo client is connected\n').ok).toBe(false);
  });
});

describe('latencyFromH2loadLog', () => {
  it('gives nearest-rank percentiles in milliseconds', () => {
    // 100 requests taking 1..100 µs ×10, listed out of order.
    const lines = Array.from({ length: 100 }, (_, i) => `1795604010857${String(i).padStart(3, '0')}\t200\t${(100 - i) * 10}`);
    const latency = latencyFromH2loadLog(`${lines.join('\n')}\n`);
    expect(latency).toEqual({ count: 100, p50: 0.5, p90: 0.9, p99: 0.99, max: 1 });
  });

  it('skips lines that are not three columns, and is undefined for an empty log', () => {
    expect(latencyFromH2loadLog('garbage\n1\t200\t\n')).toBeUndefined();
  });
});
