// Weft next to the floor of Node.js: the same HTTP/1.1 load through three sidecar-shaped
// pairs on the same app, in one run, interleaved: HAProxy (the reference), Weft, and a Node
// byte pipe with mTLS between its halves (pipe-proxy.ts: no HTTP at all). What separates
// Weft from the pipe is Weft's own work; what separates the pipe from HAProxy is what any
// Node.js proxy pays before doing anything (bench/floor/README.md).
//
//   npx node bench/floor/run.ts [--rounds 5] [--seconds 4] [--weft-tree DIR …]
//
// --weft-tree adds the Weft pair of another checkout (built, with its node_modules), started
// by that checkout's own bench code: two builds measured in one interleaved run, which is how
// a change is told apart from this machine's drift.
//
// Layout as `npm run bench`: load generator on CPU 0, proxies and nginx on CPU 1, loopback.
// Per round and pair (rotating order): wrk -c64 (throughput, and both proxies' CPU time per
// request from /proc), then wrk -c8 (p50). Medians over rounds; every process is ours,
// started here and stopped at the end, also on Ctrl-C.
import { mkdtempSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Child } from '@weft/cli/child-process';
import { DEFAULT_LOAD_CPUS, DEFAULT_SERVER_CPUS } from '../src/options.ts';
import { parseWrk } from '../src/parsers/wrk.ts';
import { makeCertificates } from '../src/peers/certs.ts';
import { startHaproxyPair } from '../src/peers/haproxy-pair.ts';
import { startNginxApp } from '../src/peers/nginx-app.ts';
import { freePorts } from '../src/peers/ports.ts';
import { startTreeWeftPair } from '../src/peers/tree-pair.ts';
import { waitListening } from '../src/peers/wait-listening.ts';
import { startWeftPair } from '../src/peers/weft-pair.ts';
import { median } from '../src/stats.ts';
import { CLOCK_TICKS_PER_S, readPidsTicks } from '../src/system/proc.ts';
import { openRunScope } from '../src/system/run-scope.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    'weft-tree': { type: 'string', multiple: true, default: [] },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const LOAD_CPU = DEFAULT_LOAD_CPUS;
const PEER_CPU = DEFAULT_SERVER_CPUS;

interface Pair {
  readonly name: string;
  readonly port: number;
  readonly host: string | undefined;
  readonly pids: readonly number[];
}

interface Sample {
  readonly rps: number;
  readonly cpuUsPerRequest: number;
  readonly p50c8: number;
}

const { dir, processes, close } = openRunScope('weft-bench-floor-');

async function startPipePair(app: number): Promise<Pair> {
  const certs = makeCertificates(dir, ['client', 'app']);
  const [aPort, bPort] = (await freePorts(2)) as [number, number];
  const script = new URL('./pipe-proxy.ts', import.meta.url).pathname;
  const start = (role: 'a' | 'b', listen: number, upstream: number, identity: string): Child =>
    processes.start({
      name: `pipe ${role}`,
      command: process.execPath,
      args: [
        script,
        '--role',
        role,
        '--listen',
        String(listen),
        '--upstream',
        String(upstream),
        '--bundle',
        certs.bundle[identity] as string,
        '--ca',
        certs.caFile,
      ],
      cpus: PEER_CPU,
      logFile: join(dir, `pipe-${role}.log`),
    });
  const b = start('b', bPort, app, 'app');
  const a = start('a', aPort, bPort, 'client');
  await Promise.all([waitListening(a, [aPort]), waitListening(b, [bPort])]);
  return { name: 'node pipe', port: aPort, host: undefined, pids: [a.pid as number, b.pid as number] };
}

async function wrk(pair: Pair, connections: number): Promise<{ requests: number; rps: number; p50: number }> {
  const host = pair.host ? ['-H', `Host: ${pair.host}`] : [];
  const result = await processes.run(
    'wrk',
    ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', ...host, `http://127.0.0.1:${pair.port}/`],
    { cpus: LOAD_CPU, timeoutMs: (SECONDS + 30) * 1000 },
  );
  const parsed = parseWrk(result.stdout);
  if (!parsed.ok) throw new Error(`${pair.name}: ${parsed.error}`);
  if (parsed.value.errors > 0) throw new Error(`${pair.name}: wrk counted ${parsed.value.errors} errors\n${result.stdout}`);
  return { requests: parsed.value.requests, rps: parsed.value.rps, p50: parsed.value.latencyMs.p50 ?? Number.NaN };
}

async function main(): Promise<void> {
  const app = await startNginxApp(processes, dir, PEER_CPU, dir);
  const haproxy = await startHaproxyPair(processes, dir, { h1Port: app.h1Port, h2Port: app.h2Port }, PEER_CPU, dir);
  const weft = await startWeftPair(processes, {
    dir,
    logDir: dir,
    appPort: app.h1Port,
    appH2Port: app.h2Port,
    cpus: PEER_CPU,
    security: 'mtls',
  });
  const pairs: Pair[] = [
    { name: 'haproxy', port: haproxy.h1Port, host: undefined, pids: [haproxy.a.pid as number, haproxy.b.pid as number] },
    { name: 'weft', port: weft.outboundPort, host: 'app', pids: [weft.a.pid as number, weft.b.pid as number] },
    await startPipePair(app.h1Port),
  ];
  for (const tree of values['weft-tree']) {
    const other = resolve(tree);
    const pairDir = mkdtempSync(join(dir, 'tree-'));
    const pair = await startTreeWeftPair(other, processes, {
      dir: pairDir,
      logDir: pairDir,
      appPort: app.h1Port,
      appH2Port: app.h2Port,
      cpus: PEER_CPU,
      security: 'mtls',
    });
    pairs.push({
      name: `weft@${basename(other)}`,
      port: pair.outboundPort,
      host: 'app',
      pids: [pair.a.pid as number, pair.b.pid as number],
    });
  }
  for (const pair of pairs) await wrk(pair, 64); // warm-up: connections, JIT
  const samples = new Map<string, Sample[]>(pairs.map((p) => [p.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < pairs.length; k++) {
      const pair = pairs[(round + k) % pairs.length] as Pair;
      const before = readPidsTicks(pair.pids);
      const c64 = await wrk(pair, 64);
      const cpuUsPerRequest = (((readPidsTicks(pair.pids) - before) / CLOCK_TICKS_PER_S) * 1e6) / c64.requests;
      const c8 = await wrk(pair, 8);
      samples.get(pair.name)?.push({ rps: c64.rps, cpuUsPerRequest, p50c8: c8.p50 });
      console.log(
        `round ${round + 1} ${pair.name.padEnd(13)} c64 ${c64.rps.toFixed(0).padStart(6)} req/s, ${cpuUsPerRequest.toFixed(1)} µs CPU/request (both proxies); c8 p50 ${c8.p50.toFixed(3)} ms`,
      );
    }
  }
  const summary = (name: string) => {
    const xs = samples.get(name) ?? [];
    return { rps: median(xs.map((s) => s.rps)), cpu: median(xs.map((s) => s.cpuUsPerRequest)), p50: median(xs.map((s) => s.p50c8)) };
  };
  const ref = summary('haproxy');
  console.log('');
  console.log('pair           c64 req/s  ÷ haproxy   CPU µs/request (both)  ÷ haproxy   c8 p50 ms  ÷ haproxy');
  for (const pair of pairs) {
    const s = summary(pair.name);
    console.log(
      `${pair.name.padEnd(13)} ${s.rps.toFixed(0).padStart(10)} ${`${(s.rps / ref.rps).toFixed(2)}×`.padStart(10)} ${s.cpu.toFixed(1).padStart(22)} ${`${(s.cpu / ref.cpu).toFixed(2)}×`.padStart(10)} ${s.p50.toFixed(3).padStart(10)} ${`${(s.p50 / ref.p50).toFixed(2)}×`.padStart(10)}`,
    );
  }
  console.log(JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, pairs: Object.fromEntries(pairs.map((p) => [p.name, summary(p.name)])) }));
}

try {
  await main();
} finally {
  await close();
}
