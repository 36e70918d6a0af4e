// Reads wrk's report (run with --latency): throughput, the latency distribution and the
// errors wrk counts. A report without a Requests/sec line is an error, not a zero.
import type { Result } from '../result.ts';
import { parseBytes, parseDurationMs } from './units.ts';

export interface WrkResult {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly transferBytesPerS: number;
  readonly latencyMs: { readonly p50?: number; readonly p75?: number; readonly p90?: number; readonly p99?: number };
  /** Non-2xx/3xx responses plus socket errors (connect, read, write, timeout). */
  readonly errors: number;
}

export function parseWrk(output: string): Result<WrkResult> {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const total = /^\s*(\d+) requests in ([\d.]+\w+),/m.exec(output);
  if (!rps || !total) return { ok: false, error: `wrk printed no result:\n${output.trim().slice(0, 500)}` };
  const latencyMs: Record<string, number> = {};
  const distribution = /Latency Distribution\n((?:\s+\d+%\s+\S+\n?)+)/.exec(output);
  for (const line of distribution?.[1]?.split('\n') ?? []) {
    const match = /^\s*(\d+)%\s+(\S+)/.exec(line);
    const ms = match ? parseDurationMs(match[2] as string) : undefined;
    if (match && ms !== undefined) latencyMs[`p${match[1]}`] = ms;
  }
  const non2xx = Number(/^\s*Non-2xx or 3xx responses:\s+(\d+)/m.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0;
  const transfer = /^Transfer\/sec:\s+(\S+)/m.exec(output);
  return {
    ok: true,
    value: {
      requests: Number(total[1]),
      durationS: (parseDurationMs(total[2] as string) ?? Number.NaN) / 1000,
      rps: Number(rps[1]),
      transferBytesPerS: transfer ? (parseBytes(transfer[1] as string) ?? Number.NaN) : Number.NaN,
      latencyMs,
      errors: non2xx + socketErrors,
    },
  };
}
