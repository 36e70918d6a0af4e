// Instructions per request that telemetry adds to one request's two hops in-process
// (telemetry-per-request.ts's hops), counted by valgrind's callgrind rather than timed: the
// count does not move with the host's load, so a change of 1 % shows. V8 runs with
// --predictable (compiling and collecting on the main thread, in a fixed order) and a fixed
// random seed, so two runs of one build agree within a few instructions per request. Each
// mode runs twice, with N and 3N requests, and the difference between the two is divided by
// 2N: start-up and compiling fall out. Takes about three minutes (valgrind runs Node ~50×
// slower); needs valgrind (Debian's package).
//
//   npx node proxy/bench/telemetry-instructions.ts [N, default 40000]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? '40000');
if (!(N > 0)) throw new Error(`N: a positive number of requests, not ${process.argv[2]}`);
const hopsScript = new URL('./telemetry-per-request.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'weft-instructions-'));

/** Instructions the whole process ran: node running `n` requests in one mode. */
async function instructions(mode: 'on' | 'off', n: number): Promise<number> {
  const { stderr } = await run(
    'valgrind',
    [
      '--tool=callgrind',
      '--smc-check=all-non-file', // V8 writes the code it runs
      `--callgrind-out-file=${join(dir, `${mode}-${n}.out`)}`,
      process.execPath,
      '--predictable',
      '--random-seed=7',
      hopsScript,
      'repeat',
      mode,
      String(n),
    ],
    { maxBuffer: 16 * 1024 * 1024, timeout: 20 * 60_000 },
  );
  const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr)?.[1];
  if (refs === undefined) throw new Error(`no instruction count from valgrind:\n${stderr.slice(-2000)}`);
  return Number(refs.replaceAll(',', ''));
}

/** Per request in one mode: two runs at once (this machine has two cores). */
async function perRequest(mode: 'on' | 'off'): Promise<number> {
  const [short, long] = await Promise.all([instructions(mode, N), instructions(mode, 3 * N)]);
  return (long - short) / (2 * N);
}

try {
  const off = await perRequest('off');
  const on = await perRequest('on');
  console.log(
    `two hops in-process, sidecar defaults: ${Math.round(off)} instructions per request without telemetry, ` +
      `${Math.round(on)} with it: telemetry ${Math.round(on - off)} (callgrind, V8 --predictable, ${N} and ${3 * N} requests)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
