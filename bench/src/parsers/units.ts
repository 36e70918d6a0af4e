// Units as the load generators print them: durations (wrk "56.00us", h2load "1.12ms",
// hey "0.0004 secs") and byte counts ("18.84MB", "276.22KB"; wrk and h2load count in 1024s).

const DURATION_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, secs: 1000, m: 60_000, h: 3_600_000 };
const BYTES: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** "56.00us" → 0.056 (milliseconds); undefined when it is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^\s*([\d.]+)\s*(ns|us|µs|ms|secs|s|m|h)\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (DURATION_MS[match[2] as string] as number);
}

/** "18.84MB" → bytes; undefined when it is not a size. */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*([\d.]+)\s*(B|KB|MB|GB|TB)\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (BYTES[match[2] as string] as number);
}
