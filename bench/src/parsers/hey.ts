// Reads hey's summary: throughput, the latency distribution (printed in seconds with four
// decimals, so 0.1 ms resolution) and the status code and error counts.
import type { Result } from '../result.ts';

export interface HeyResult {
  readonly rps: number;
  readonly latencyMs: { readonly p50?: number; readonly p90?: number; readonly p99?: number };
  readonly responses: number;
  /** Non-2xx responses plus transport errors. */
  readonly errors: number;
}

export function parseHey(output: string): Result<HeyResult> {
  const rps = /^\s*Requests\/sec:\s+([\d.]+)/m.exec(output);
  if (!rps) return { ok: false, error: `hey printed no result:\n${output.trim().slice(0, 500)}` };
  const latencyMs: Record<string, number> = {};
  for (const match of output.matchAll(/^\s*(\d+)% in ([\d.]+) secs/gm)) latencyMs[`p${match[1]}`] = Number(match[2]) * 1000;
  let responses = 0;
  let errors = 0;
  for (const match of output.matchAll(/^\s*\[(\d+)\]\s+(\d+) responses/gm)) {
    const count = Number(match[2]);
    responses += count;
    if (!(match[1] as string).startsWith('2')) errors += count;
  }
  const errorSection = /Error distribution:\n([\s\S]*)$/.exec(output)?.[1] ?? '';
  for (const match of errorSection.matchAll(/^\s*\[(\d+)\]/gm)) errors += Number(match[1]);
  return { ok: true, value: { rps: Number(rps[1]), latencyMs, responses, errors } };
}
