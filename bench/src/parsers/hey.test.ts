import { describe, expect, it } from 'vitest';
import { parseHey } from './hey.ts';

// Printed by hey 0.1.4 (Debian) on this machine, histogram shortened.
const REPORT = `
Summary:
  Total:	2.0155 secs
  Slowest:	0.0032 secs
  Fastest:	0.0001 secs
  Average:	0.0005 secs
  Requests/sec:	198.4605

Response time histogram:
  0.000 [1]	|
  0.003 [3]	|■

Latency distribution:
  10% in 0.0002 secs
  25% in 0.0003 secs
  50% in 0.0004 secs
  75% in 0.0005 secs
  90% in 0.0007 secs
  95% in 0.0008 secs
  99% in 0.0028 secs

Status code distribution:
  [200]	400 responses
`;

describe('parseHey', () => {
  it('reads throughput and the latency distribution in milliseconds', () => {
    const result = parseHey(REPORT);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.rps).toBe(198.4605);
    expect(result.value.latencyMs.p50).toBeCloseTo(0.4);
    expect(result.value.latencyMs.p90).toBeCloseTo(0.7);
    expect(result.value.latencyMs.p99).toBeCloseTo(2.8);
    expect(result.value.responses).toBe(400);
    expect(result.value.errors).toBe(0);
  });

  it('counts non-2xx responses and transport errors', () => {
    const bad = `${REPORT}  [503]\t7 responses\n\nError distribution:\n  [5]\tGet http://127.0.0.1:1/: dial tcp: connection refused\n`;
    const result = parseHey(bad);
    expect(result.ok && result.value.errors).toBe(12);
  });

  it('refuses output without a result', () => {
    expect(parseHey('flag provided but not defined: -x\n').ok).toBe(false);
  });
});
