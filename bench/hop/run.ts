// The sidecar-to-sidecar hop: HTTP/1.1 over a keep-alive pool of mTLS connections, or HTTP/2
// multiplexed over one mTLS session? Two bare proxy pairs (hop-proxy.ts) that differ only in
// that hop run under the same load at the same time, each loaded by its own load generator,
// as bench/ab does for two builds; each window gives both pairs' CPU time per request from
// /proc, per half, and the ratio of the two pairs.
//
//   npx node bench/hop/run.ts [--windows 12] [--seconds 3] [--connections 64] [--sessions 1]
//   npx node bench/hop/run.ts --aa          # h1 against h1: the method's own noise
//
// Two loads, each for --windows windows: saturation (wrk, --connections per pair: many
// requests in flight, where multiplexing can put several in one read and write) and paced
// (h2load --h1, 10 connections × 100 req/s per pair: the bench's h1-paced-1k, where requests
// seldom overlap). Layout as `npm run bench`: load generators on CPU 0; both pairs and the one
// nginx on CPU 1. Every process is ours, stopped at the end, also on Ctrl-C.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pacedCommand } from '../src/data-path/load-commands.ts';
import { DEFAULT_LOAD_CPUS, DEFAULT_SERVER_CPUS } from '../src/options.ts';
import { latencyFromH2loadLog, parseH2load } from '../src/parsers/h2load.ts';
import { parseWrk } from '../src/parsers/wrk.ts';
import { makeCertificates } from '../src/peers/certs.ts';
import { startNginxApp } from '../src/peers/nginx-app.ts';
import { median, quantile } from '../src/stats.ts';
import { CLOCK_TICKS_PER_S, readPidsTicks } from '../src/system/proc.ts';
import { openRunScope } from '../src/system/run-scope.ts';
import { type HopPair, startHopPair } from './hop-pair.ts';

const { values } = parseArgs({
  options: {
    windows: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    sessions: { type: 'string', default: '1' },
    aa: { type: 'boolean', default: false },
  },
});
const WINDOWS = Number(values.windows);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const SESSIONS = Number(values.sessions);
const PACED_CONNECTIONS = 10;
const PACED_RATE = 100;
const LOAD_CPU = DEFAULT_LOAD_CPUS;
const PEER_CPU = DEFAULT_SERVER_CPUS;

interface Load {
  readonly requests: number;
  readonly rps: number;
  /** Paced only: median latency (ms) from h2load's per-request log. */
  readonly p50?: number;
}

/** One window of one pair: CPU µs per request of each half, and what the load saw. */
interface PairWindow {
  readonly a: number;
  readonly b: number;
  readonly rps: number;
  readonly p50: number;
}

const { dir, processes, close } = openRunScope('weft-bench-hop-');
let logs = 0;

// True only during a warm-up window (measure()).
let warmingUp = false;

async function saturate(pair: HopPair): Promise<Load> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--timeout', '5s', `http://127.0.0.1:${pair.port}/`];
  const result = await processes.run('wrk', args, {
    cpus: LOAD_CPU,
    timeoutMs: (SECONDS + 30) * 1000,
  });
  const parsed = parseWrk(result.stdout);
  if (!parsed.ok) throw new Error(`${pair.hop} pair: ${parsed.error}`);
  // The warm-up opens every pooled connection at once (RSA handshakes on a shared core).
  if (parsed.value.errors > 0 && !warmingUp)
    throw new Error(`${pair.hop} pair: wrk counted ${parsed.value.errors} errors\n${result.stdout}`);
  return { requests: parsed.value.requests, rps: parsed.value.rps };
}

async function pace(pair: HopPair): Promise<Load> {
  const logFile = join(dir, `paced-${logs++}.log`);
  const command = pacedCommand({ port: pair.port, path: '/' }, PACED_CONNECTIONS, PACED_RATE, SECONDS, logFile);
  const result = await processes.run(command.command, command.args, { cpus: LOAD_CPU, timeoutMs: (SECONDS + 30) * 1000 });
  const parsed = parseH2load(result.stdout);
  if (!parsed.ok) throw new Error(`${pair.hop} pair: ${parsed.error}`);
  if (parsed.value.errors > 0 && !warmingUp)
    throw new Error(`${pair.hop} pair: h2load counted ${parsed.value.errors} errors\n${result.stdout}`);
  const latency = latencyFromH2loadLog(readFileSync(logFile, 'utf8'));
  return { requests: parsed.value.done, rps: parsed.value.rps, p50: latency?.p50 ?? Number.NaN };
}

/** Both pairs under load in the same seconds; `swap` starts the second pair's load first. */
async function window(
  pairs: readonly [HopPair, HopPair],
  load: (p: HopPair) => Promise<Load>,
  swap: boolean,
): Promise<[PairWindow, PairWindow]> {
  const ticks = (p: HopPair) => [readPidsTicks([p.a.pid as number]), readPidsTicks([p.b.pid as number])] as const;
  const before = pairs.map(ticks);
  const order = swap ? [pairs[1], pairs[0]] : pairs;
  const loads = await Promise.all(order.map(load));
  const results = swap ? [loads[1], loads[0]] : loads;
  const usPerRequest = (delta: number, requests: number) => ((delta / CLOCK_TICKS_PER_S) * 1e6) / requests;
  const of = (i: 0 | 1): PairWindow => {
    const after = ticks(pairs[i]);
    const r = results[i] as Load;
    return {
      a: usPerRequest(after[0] - (before[i] as readonly [number, number])[0], r.requests),
      b: usPerRequest(after[1] - (before[i] as readonly [number, number])[1], r.requests),
      rps: r.rps,
      p50: r.p50 ?? Number.NaN,
    };
  };
  return [of(0), of(1)];
}

interface Summary {
  readonly load: string;
  readonly pairs: readonly string[];
  /** Median CPU µs per request of each pair's halves and both together. */
  readonly cpu: readonly { a: number; b: number; both: number; rps: number; p50: number }[];
  readonly ratio: { median: number; q1: number; q3: number };
}

async function measure(
  name: string,
  pairs: readonly [HopPair, HopPair],
  names: readonly [string, string],
  load: (p: HopPair) => Promise<Load>,
): Promise<Summary> {
  warmingUp = true;
  await window(pairs, load, false); // warm-up: connections, JIT
  warmingUp = false;
  const windows: [PairWindow, PairWindow][] = [];
  for (let i = 0; i < WINDOWS; i++) {
    const w = await window(pairs, load, i % 2 === 1);
    windows.push(w);
    const show = (p: PairWindow) =>
      `a ${p.a.toFixed(1)} + b ${p.b.toFixed(1)} µs (${p.rps.toFixed(0)} req/s${Number.isNaN(p.p50) ? '' : `, p50 ${p.p50.toFixed(3)} ms`})`;
    console.log(
      `${name} window ${String(i + 1).padStart(2)}: ${names[0]} ${show(w[0])}; ${names[1]} ${show(w[1])}; ratio ${((w[1].a + w[1].b) / (w[0].a + w[0].b)).toFixed(3)}`,
    );
  }
  const ratios = windows.map(([x, y]) => (y.a + y.b) / (x.a + x.b));
  const of = (i: 0 | 1) => ({
    a: median(windows.map((w) => w[i].a)),
    b: median(windows.map((w) => w[i].b)),
    both: median(windows.map((w) => w[i].a + w[i].b)),
    rps: median(windows.map((w) => w[i].rps)),
    p50: median(windows.map((w) => w[i].p50)),
  });
  return {
    load: name,
    pairs: names,
    cpu: [of(0), of(1)],
    ratio: { median: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75) },
  };
}

async function main(): Promise<void> {
  const app = await startNginxApp(processes, dir, PEER_CPU, dir);
  const certs = makeCertificates(dir, ['client', 'app']);
  const start = (hop: 'h1' | 'h2', label: string) =>
    startHopPair(processes, { hop, appPort: app.h1Port, certs, logDir: dir, sessions: SESSIONS, cpus: PEER_CPU, label });
  const pairs = [await start('h1', 'h1'), await start(values.aa ? 'h1' : 'h2', values.aa ? 'h1-again' : 'h2')] as const;
  const names = values.aa ? (['h1', 'h1 (A/A)'] as const) : (['h1 pool', `h2 × ${SESSIONS}`] as const);
  const summaries = [await measure('saturation', pairs, names, saturate), await measure('paced', pairs, names, pace)];
  console.log('');
  for (const s of summaries) {
    const [x, y] = s.cpu as [Summary['cpu'][0], Summary['cpu'][0]];
    const extra = s.load === 'paced' ? `; p50 ${x.p50.toFixed(3)} vs ${y.p50.toFixed(3)} ms` : '';
    console.log(
      `${s.load}: CPU µs per request, ${s.pairs[0]} ${x.both.toFixed(1)} (a ${x.a.toFixed(1)}, b ${x.b.toFixed(1)}), ` +
        `${s.pairs[1]} ${y.both.toFixed(1)} (a ${y.a.toFixed(1)}, b ${y.b.toFixed(1)}); ${s.pairs[1]} ÷ ${s.pairs[0]} median ` +
        `${s.ratio.median.toFixed(3)} (middle half ${s.ratio.q1.toFixed(3)}–${s.ratio.q3.toFixed(3)}); req/s ${x.rps.toFixed(0)} vs ${y.rps.toFixed(0)}${extra}`,
    );
  }
  console.log(JSON.stringify({ windows: WINDOWS, seconds: SECONDS, connections: CONNECTIONS, sessions: SESSIONS, summaries }));
}

try {
  await main();
} finally {
  await close();
}
