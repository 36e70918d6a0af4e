import { describe, expect, it } from 'vitest';
import { parseWrk } from './wrk.ts';

// Printed by wrk 4.1 (Debian) on this machine.
const REPORT = `Running 2s test @ http://127.0.0.1:38081/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    88.64us  155.55us   4.23ms   98.43%
    Req/Sec    66.79k    11.30k   74.85k    85.00%
  Latency Distribution
     50%   56.00us
     75%  101.00us
     90%  127.00us
     99%    1.32ms
  132564 requests in 2.00s, 18.84MB read
Requests/sec:  66240.10
Transfer/sec:      9.41MB
`;

describe('parseWrk', () => {
  it('reads throughput, transfer and the latency distribution in milliseconds', () => {
    const result = parseWrk(REPORT);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.rps).toBe(66240.1);
    expect(result.value.requests).toBe(132564);
    expect(result.value.durationS).toBe(2);
    expect(result.value.transferBytesPerS).toBeCloseTo(9.41 * 1024 * 1024);
    expect(result.value.latencyMs.p50).toBeCloseTo(0.056);
    expect(result.value.latencyMs.p90).toBeCloseTo(0.127);
    expect(result.value.latencyMs.p99).toBeCloseTo(1.32);
    expect(result.value.errors).toBe(0);
  });

  it('counts non-2xx responses and socket errors as errors', () => {
    const withErrors = REPORT.replace(
      'Requests/sec',
      '  Socket errors: connect 0, read 3, write 1, timeout 2\n  Non-2xx or 3xx responses: 10\nRequests/sec',
    );
    const result = parseWrk(withErrors);
    expect(result.ok && result.value.errors).toBe(16);
  });

  it('refuses output without a result', () => {
    const result = parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain('unable to connect');
  });
});
