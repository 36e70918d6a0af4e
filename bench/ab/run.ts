// Two builds of Weft under the same load at the same time: this checkout's sidecar pair and
// another checkout's (`--tree DIR`, built, with its node_modules, started by that checkout's
// own bench code), each loaded by its own wrk, both wrks running together. Each window gives
// both pairs' CPU time per request from /proc, and their ratio; the result is the median
// ratio over the windows.
//
//   npx node bench/ab/run.ts --tree ../base-checkout [--windows 12] [--seconds 3] [--connections 32]
//   npx node bench/ab/run.ts --aa                    # this checkout against itself: the method's noise
//   npx node bench/ab/run.ts --tree DIR --protocol grpc   # or h2: h2load, 8 connections × 8 streams,
//                                                         # as the bench's h2-c8x8 and grpc-c8x8
//   npx node bench/ab/run.ts --tree DIR --paced           # HTTP/1.1 paced as h1-paced-1k (h2load --h1,
//                                                         # 10 connections × 100 req/s per pair)
//
// Why at the same time: this host's speed drifts by tens of percent within a minute, and it
// drifts for both pairs alike only when they run in the same seconds. Interleaved runs
// (bench/floor's --weft-tree) read a change worth less than ~20 % as noise; this reads ~5 %.
// Which wrk is started first alternates per window, so neither pair is always first.
//
// Layout as `npm run bench`: both wrks on CPU 0; both pairs and the one nginx on CPU 1.
// Every process is ours, started here and stopped at the end, also on Ctrl-C.
import { mkdtempSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Command, h2Command, pacedCommand } from '../src/data-path/load-commands.ts';
import { DEFAULT_LOAD_CPUS, DEFAULT_SERVER_CPUS } from '../src/options.ts';
import { parseH2load } from '../src/parsers/h2load.ts';
import { parseWrk } from '../src/parsers/wrk.ts';
import { APP_PATHS, startNginxApp } from '../src/peers/nginx-app.ts';
import { startTreeWeftPair } from '../src/peers/tree-pair.ts';
import { APP_H2_SERVICE } from '../src/peers/weft-pair.ts';
import { median, quantile } from '../src/stats.ts';
import { CLOCK_TICKS_PER_S, readPidsTicks } from '../src/system/proc.ts';
import { openRunScope } from '../src/system/run-scope.ts';

const { values } = parseArgs({
  options: {
    tree: { type: 'string' },
    aa: { type: 'boolean', default: false },
    windows: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    protocol: { type: 'string', default: 'h1' },
    paced: { type: 'boolean', default: false },
  },
});
const PROTOCOLS = ['h1', 'h2', 'grpc'] as const;
type Protocol = (typeof PROTOCOLS)[number];
if (
  (values.tree === undefined && !values.aa) ||
  !PROTOCOLS.includes(values.protocol as Protocol) ||
  (values.paced && values.protocol !== 'h1')
) {
  console.error(
    'usage: npx node bench/ab/run.ts --tree DIR | --aa [--protocol h1|h2|grpc | --paced] [--windows 12] [--seconds 3] [--connections 32]',
  );
  process.exit(2);
}
const PROTOCOL = values.protocol as Protocol;
const PACED = values.paced;
/** The bench's h1-paced-1k, per pair. */
const PACED_CONNECTIONS = 10;
const PACED_RATE = 100;
const WINDOWS = Number(values.windows);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const LOAD_CPU = DEFAULT_LOAD_CPUS;
const PEER_CPU = DEFAULT_SERVER_CPUS;

interface Pair {
  readonly name: string;
  readonly port: number;
  readonly pids: readonly number[];
}

interface Window {
  /** CPU µs per request, both sidecars, of this checkout's pair and of the other. */
  readonly ours: number;
  readonly theirs: number;
  readonly oursRps: number;
  readonly theirsRps: number;
}

const { dir, processes, close } = openRunScope('weft-bench-ab-');

/** One pair's load for one window: wrk for HTTP/1.1 (h2load --h1 when paced), h2load over
 * h2c for HTTP/2 and gRPC. */
function load(pair: Pair, seconds: number): Promise<{ requests: number; rps: number }> {
  if (PACED) return paced(pair, seconds);
  return PROTOCOL === 'h1' ? wrk(pair, seconds) : h2load(pair, seconds);
}

function paced(pair: Pair, seconds: number): Promise<{ requests: number; rps: number }> {
  const target = { port: pair.port, path: APP_PATHS.tiny, host: 'app' };
  return runH2load(pair, pacedCommand(target, PACED_CONNECTIONS, PACED_RATE, seconds, undefined), seconds);
}

function h2load(pair: Pair, seconds: number): Promise<{ requests: number; rps: number }> {
  const grpc = PROTOCOL === 'grpc';
  const target = { port: pair.port, path: grpc ? APP_PATHS.grpc : APP_PATHS.tiny, host: APP_H2_SERVICE };
  return runH2load(pair, h2Command(target, 8, 8, seconds, undefined, grpc ? join(dir, 'www', 'grpc-empty.bin') : undefined), seconds);
}

async function runH2load(pair: Pair, command: Command, seconds: number): Promise<{ requests: number; rps: number }> {
  const result = await processes.run(command.command, command.args, { cpus: LOAD_CPU, timeoutMs: (seconds + 30) * 1000 });
  const parsed = parseH2load(result.stdout);
  if (!parsed.ok) throw new Error(`${pair.name}: ${parsed.error}`);
  if (parsed.value.errors > 0) throw new Error(`${pair.name}: h2load counted ${parsed.value.errors} errors\n${result.stdout}`);
  return { requests: parsed.value.done, rps: parsed.value.rps };
}

async function wrk(pair: Pair, seconds: number): Promise<{ requests: number; rps: number }> {
  const result = await processes.run(
    'wrk',
    ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-H', 'Host: app', `http://127.0.0.1:${pair.port}/`],
    { cpus: LOAD_CPU, timeoutMs: (seconds + 30) * 1000 },
  );
  const parsed = parseWrk(result.stdout);
  if (!parsed.ok) throw new Error(`${pair.name}: ${parsed.error}`);
  if (parsed.value.errors > 0) throw new Error(`${pair.name}: wrk counted ${parsed.value.errors} errors\n${result.stdout}`);
  return { requests: parsed.value.requests, rps: parsed.value.rps };
}

/** Both pairs under load in the same seconds; `first` is the one whose wrk starts first. */
async function window(ours: Pair, theirs: Pair, first: 'ours' | 'theirs'): Promise<Window> {
  const before = [readPidsTicks(ours.pids), readPidsTicks(theirs.pids)] as const;
  const [a, b] = first === 'ours' ? [ours, theirs] : [theirs, ours];
  const [ra, rb] = await Promise.all([load(a, SECONDS), load(b, SECONDS)]);
  const [o, t] = first === 'ours' ? [ra, rb] : [rb, ra];
  const usPerRequest = (delta: number, requests: number) => ((delta / CLOCK_TICKS_PER_S) * 1e6) / requests;
  return {
    ours: usPerRequest(readPidsTicks(ours.pids) - before[0], o.requests),
    theirs: usPerRequest(readPidsTicks(theirs.pids) - before[1], t.requests),
    oursRps: o.rps,
    theirsRps: t.rps,
  };
}

async function startPair(tree: string, name: string, appPort: number, appH2Port: number): Promise<Pair> {
  const pairDir = mkdtempSync(join(dir, 'pair-'));
  const pair = await startTreeWeftPair(tree, processes, {
    dir: pairDir,
    logDir: pairDir,
    appPort,
    appH2Port,
    cpus: PEER_CPU,
    security: 'mtls',
  });
  // HTTP/2 reaches the app through the server-side sidecar of its h2c service.
  const server = PROTOCOL === 'h1' ? pair.b : pair.bH2;
  return { name, port: pair.outboundPort, pids: [pair.a.pid as number, server.pid as number] };
}

async function main(): Promise<void> {
  const app = await startNginxApp(processes, dir, PEER_CPU, dir);
  const here = resolve(new URL('../..', import.meta.url).pathname);
  const other = values.aa ? here : resolve(values.tree as string);
  const ours = await startPair(here, 'this checkout', app.h1Port, app.h2Port);
  const theirs = await startPair(other, values.aa ? 'this checkout (A/A)' : `weft@${basename(other)}`, app.h1Port, app.h2Port);
  // Warm-up: connections, JIT.
  await window(ours, theirs, 'ours');
  const windows: Window[] = [];
  for (let i = 0; i < WINDOWS; i++) {
    const w = await window(ours, theirs, i % 2 === 0 ? 'ours' : 'theirs');
    windows.push(w);
    console.log(
      `window ${String(i + 1).padStart(2)}: ${ours.name} ${w.ours.toFixed(1)} µs/request (${w.oursRps.toFixed(0)} req/s), ` +
        `${theirs.name} ${w.theirs.toFixed(1)} µs/request (${w.theirsRps.toFixed(0)} req/s), ratio ${(w.ours / w.theirs).toFixed(3)}`,
    );
  }
  const cpu = windows.map((w) => w.ours / w.theirs);
  const rps = windows.map((w) => w.oursRps / w.theirsRps);
  console.log('');
  console.log(
    `CPU per request, ${ours.name} ÷ ${theirs.name}: median ${median(cpu).toFixed(3)} ` +
      `(middle half ${quantile(cpu, 0.25).toFixed(3)}–${quantile(cpu, 0.75).toFixed(3)}); ` +
      `throughput ÷: median ${median(rps).toFixed(3)}`,
  );
  console.log(
    JSON.stringify({
      protocol: PROTOCOL,
      paced: PACED,
      windows: WINDOWS,
      seconds: SECONDS,
      connections: CONNECTIONS,
      ours: ours.name,
      theirs: theirs.name,
      cpuRatio: { median: median(cpu), q1: quantile(cpu, 0.25), q3: quantile(cpu, 0.75) },
      rpsRatio: median(rps),
      cpuUsPerRequest: { ours: median(windows.map((w) => w.ours)), theirs: median(windows.map((w) => w.theirs)) },
    }),
  );
}

try {
  await main();
} finally {
  await close();
}
