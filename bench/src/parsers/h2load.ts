// Reads h2load's report (throughput, request counts, status classes) and its per-request
// --log-file (tab-separated: start µs since epoch, status, µs until the response ended),
// from which the latency percentiles are computed: the report itself has none.
import type { Result } from '../result.ts';
import { percentileOfSorted } from '../stats.ts';
import { parseBytes } from './units.ts';

export interface H2loadResult {
  readonly rps: number;
  readonly transferBytesPerS: number;
  readonly done: number;
  /** Failed requests and non-2xx responses. */
  readonly errors: number;
}

export interface LatencyPercentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export function parseH2load(output: string): Result<H2loadResult> {
  const finished = /^finished in [\d.]+\w+, ([\d.]+) req\/s, (\S+)\/s/m.exec(output);
  const requests = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(
    output,
  );
  if (!finished || !requests) return { ok: false, error: `h2load printed no result:\n${output.trim().slice(-500)}` };
  const done = Number(requests[3]);
  const failed = Number(requests[5]);
  const twoxx = Number(/^status codes: (\d+) 2xx/m.exec(output)?.[1] ?? done);
  return {
    ok: true,
    value: {
      rps: Number(finished[1]),
      transferBytesPerS: parseBytes(finished[2] as string) ?? Number.NaN,
      done,
      errors: Math.max(failed, done - twoxx),
    },
  };
}

/** Latency percentiles in milliseconds from an h2load --log-file; lines that are not
 * three numeric columns are skipped. */
export function latencyFromH2loadLog(log: string): LatencyPercentiles | undefined {
  const micros: number[] = [];
  for (const line of log.split('\n')) {
    const columns = line.split('\t');
    if (columns.length !== 3) continue;
    const us = Number(columns[2]);
    if (Number.isFinite(us) && columns[2] !== '') micros.push(us);
  }
  if (micros.length === 0) return undefined;
  const sorted = Float64Array.from(micros).sort();
  const ms = (p: number) => percentileOfSorted(sorted, p) / 1000;
  return { count: sorted.length, p50: ms(50), p90: ms(90), p99: ms(99), max: (sorted[sorted.length - 1] as number) / 1000 };
}
