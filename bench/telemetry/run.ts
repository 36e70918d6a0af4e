// Telemetry cost: throughput through one sidecar pair (wrk → client sidecar → server
// sidecar → nginx) with telemetry on versus paused, in the same run and the same processes.
// Goal: "on" keeps at least 95 % of "off". `--profile full` (the default) is everything:
// metrics, the telemetry stream, every request traced and in the access log; `--profile
// defaults` is a sidecar as it runs by default (metrics, the stream, 1 % of new traces, no
// access log).
//
//   npx node bench/telemetry/run.ts [--profile full|defaults] [--windows 40] [--window-seconds 2] [--connections 64] [--aa]
//     [--client-header 'name: value'] [--cpu-prof DIR]
//
// One wrk loads the pair for the whole run while telemetry is switched on and off at the
// start of every window (admin port, POST /telemetry?state=…), in the order on off off on;
// nginx's request counter (stub_status) gives each window's throughput. This machine's
// throughput drifts by ±10 % over seconds, so the result is the median over neighbouring
// on/off pairs of their ratio, each pair measured under the same conditions. --aa keeps
// telemetry on in both slots: what it shows is the method's own noise. The sidecars' CPU
// time per request (from /proc) is reported beside it.
//
// wrk runs on core 0; the sidecars and nginx on core 1 (TOOLCHAIN.md's layout). Every
// process is ours, on 127.0.0.1, stopped at the end.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { type Child, spawnChild } from '@weft/cli/child-process';
import { freePort } from '@weft/cli/free-port';
import { WEFT_BIN } from '@weft/cli/local-mesh';
import { median } from '../src/stats.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    windows: { type: 'string', default: '40' },
    'window-seconds': { type: 'string', default: '2' },
    aa: { type: 'boolean', default: false },
    connections: { type: 'string', default: '64' },
    profile: { type: 'string', default: 'full' },
    // Extra sidecar flags, to measure one part alone (e.g. "--access-log off").
    'sidecar-args': { type: 'string', default: '' },
    // A header wrk sends with every request, e.g. "traceparent: 00-…-00": a context the
    // client brings (no hop makes one), carried in both modes.
    'client-header': { type: 'string' },
    // Write each sidecar's V8 CPU profile into this directory (open in Chrome DevTools).
    'cpu-prof': { type: 'string' },
  },
});
const EXTRA = values['sidecar-args'] ? values['sidecar-args'].split(' ') : [];
if (values.profile !== 'full' && values.profile !== 'defaults') throw new Error(`--profile: full or defaults, not ${values.profile}`);
const FULL = values.profile === 'full';
const WINDOWS = Number(values.windows);
const WINDOW_SECONDS = Number(values['window-seconds']);
if (!(WINDOWS >= 2 && WINDOWS % 2 === 0)) throw new Error(`--windows: an even number ≥ 2, not ${values.windows}`);
if (!(WINDOW_SECONDS > 0)) throw new Error(`--window-seconds: a positive number, not ${values['window-seconds']}`);
const CONNECTIONS = Number(values.connections);

interface Window {
  readonly mode: 'on' | 'off';
  readonly rps: number;
  /** CPU time both sidecars spent per request (µs). */
  readonly cpuUsPerRequest: number;
}

/** User + system CPU time of a process in µs (Linux /proc, 100 ticks per second). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const dir = mkdtempSync(join(tmpdir(), 'weft-bench-telemetry-'));
const children: Child[] = [];
const own = (c: Child) => {
  children.push(c);
  return c;
};

async function main(): Promise<void> {
  const appPort = await freePort();
  const statusPort = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${appPort}; location / { return 200 'ok\\n'; } }
  server { listen 127.0.0.1:${statusPort}; location / { stub_status; } } }
`,
  );
  own(
    spawnChild({
      name: 'nginx',
      command: 'taskset',
      args: ['-c', '1', 'nginx', '-p', dir, '-c', join(dir, 'nginx.conf')],
      logFile: join(dir, 'nginx.out'),
    }),
  );

  writeFileSync(
    join(dir, 'mesh.yaml'),
    ['client', 'app']
      .map((name) => `apiVersion: weft.io/v1alpha1\nkind: Service\nmetadata: {name: ${name}}\nspec: {protocol: http, port: 80}\n`)
      .join('---\n'),
  );
  const cp = own(
    spawnChild({
      name: 'control-plane',
      command: 'taskset',
      args: [
        '-c',
        '0',
        process.execPath,
        WEFT_BIN,
        'control-plane',
        '--config',
        join(dir, 'mesh.yaml'),
        '--data-dir',
        join(dir, 'cp'),
        '--xds-port',
        '0',
        '--admin-port',
        '0',
      ],
      logFile: join(dir, 'control-plane.log'),
    }),
  );
  const ready = await cp.waitFor((l) => l['msg'] === 'control plane listening', 30_000, 'the control plane');
  const xds = String(ready['xds']);
  const adminUrl = String(ready['admin']);
  const trustBundle = String(ready['trustBundle']);

  const sidecar = async (service: string, extra: string[]) => {
    // Sidecars join over mTLS: a join token from the control plane, its trust bundle.
    const response = await fetch(`${adminUrl}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service }),
    });
    const { token } = (await response.json()) as { token: string };
    const child = own(
      spawnChild({
        name: service,
        command: 'taskset',
        args: [
          '-c',
          '1',
          process.execPath,
          ...(values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : []),
          WEFT_BIN,
          'proxy',
          '--service',
          service,
          '--control-plane',
          xds,
          '--trust-bundle',
          trustBundle,
          '--inbound-host',
          '127.0.0.1',
          '--inbound-port',
          '0',
          '--outbound-port',
          '0',
          '--admin-port',
          '0',
          '--drain-ms',
          '0',
          // Full telemetry: every request traced, every request in the access log (to a
          // file, as a node agent would collect it), metrics and the stream.
          ...(FULL ? ['--trace-sample-rate', '1', '--access-log', join(dir, `${service}-access.log`)] : []),
          ...EXTRA,
          ...extra,
        ],
        logFile: join(dir, `${service}.log`),
        env: { ...process.env, WEFT_TOKEN: token },
      }),
    );
    const line = await child.waitFor((l) => l['msg'] === 'sidecar listening', 30_000, `${service} sidecar`);
    return { outbound: Number(line['outbound']), admin: Number(line['admin']), pid: child.pid as number };
  };
  const [server, client] = await Promise.all([sidecar('app', ['--app-port', String(appPort)]), sidecar('client', [])]);
  await waitSynced(adminUrl, 2);

  const setMode = async (slot: 'on' | 'off') => {
    const mode = values.aa ? 'on' : slot;
    for (const port of [server.admin, client.admin]) {
      const response = await fetch(`http://127.0.0.1:${port}/telemetry?state=${mode}`, { method: 'POST' });
      const body = (await response.json()) as { recording: boolean };
      if (body.recording !== (mode === 'on')) throw new Error(`sidecar on admin port ${port} did not switch telemetry ${mode}`);
    }
  };
  const url = `http://127.0.0.1:${client.outbound}/`;
  console.log(`warming up (${CONNECTIONS} connections)…`);
  await wrk(url, 10);

  // One wrk for the whole measurement; telemetry switches at every window's start, in the
  // order on off off on (so a drift over two windows cancels), and nginx's request counter
  // says how many requests each window completed.
  const pattern: ('on' | 'off')[] = ['on', 'off', 'off', 'on'];
  // Each window also spends a few requests on the admin ports and nginx's counter: on a slow
  // host that is tens of ms, so wrk gets a quarter second per window for it.
  const load = wrk(url, Math.ceil(WINDOWS * (WINDOW_SECONDS + 0.25) + 3));
  let loadEnded = false;
  const ended = () => {
    loadEnded = true;
  };
  // Its failure surfaces where it is awaited below; here it only marks the end.
  void load.then(ended, ended);
  await sleep(1500);
  const windows: Window[] = [];
  for (let i = 0; i < WINDOWS; i++) {
    const mode = pattern[i % pattern.length] as 'on' | 'off';
    await setMode(mode);
    const requestsBefore = await nginxRequests(statusPort);
    const cpuBefore = cpuMicros(server.pid) + cpuMicros(client.pid);
    const startedAt = performance.now();
    await sleep(WINDOW_SECONDS * 1000);
    const seconds = (performance.now() - startedAt) / 1000;
    const requests = (await nginxRequests(statusPort)) - requestsBefore - 1;
    const cpuUsPerRequest = (cpuMicros(server.pid) + cpuMicros(client.pid) - cpuBefore) / requests;
    if (loadEnded) throw new Error('wrk ended before the last window');
    windows.push({ mode, rps: requests / seconds, cpuUsPerRequest });
    console.log(
      `window ${String(i + 1).padStart(2)} telemetry ${mode.padEnd(3)}  ${(requests / seconds).toFixed(0).padStart(6)} req/s  sidecar CPU ${cpuUsPerRequest.toFixed(0)} µs/request`,
    );
  }
  const overall = await load;
  await setMode('on');
  const stat = (await (await fetch(`${adminUrl}/api/stat?window=10m&service=app`)).json()) as {
    services: { inbound: { requests: number } | null }[];
  };

  // Neighbouring windows (1–2, 3–4, …) pair one "on" with one "off": the ratio within each
  // pair is taken under the same machine conditions, and the median of those ratios is the
  // result.
  const pairs: { rps: number; cpu: number }[] = [];
  for (let i = 0; i + 1 < windows.length; i += 2) {
    const a = windows[i] as Window;
    const b = windows[i + 1] as Window;
    const on = a.mode === 'on' ? a : b;
    const off = a.mode === 'on' ? b : a;
    pairs.push({ rps: on.rps / off.rps, cpu: off.cpuUsPerRequest / on.cpuUsPerRequest });
  }
  const perMode = (mode: 'on' | 'off') => {
    const xs = windows.filter((w) => w.mode === mode);
    return { rps: median(xs.map((w) => w.rps)), cpuUsPerRequest: median(xs.map((w) => w.cpuUsPerRequest)) };
  };
  const on = perMode('on');
  const off = perMode('off');
  const ratio = median(pairs.map((p) => p.rps));
  const cpuRatio = median(pairs.map((p) => p.cpu));
  const sorted = pairs.map((p) => p.rps).sort((x, y) => x - y);
  const quartile = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  console.log('');
  console.log(`telemetry  req/s (median of ${WINDOWS / 2} windows)  sidecar CPU µs/request`);
  const row = (name: string, m: typeof on) =>
    `${name.padEnd(9)}  ${m.rps.toFixed(0).padStart(29)}  ${m.cpuUsPerRequest.toFixed(1).padStart(22)}`;
  console.log(row(values.aa ? 'on (A)' : 'on', on));
  console.log(row(values.aa ? 'on (B)' : 'off', off));
  console.log(`whole run: ${overall.rps.toFixed(0)} req/s, p50 ${overall.p50.toFixed(2)} ms, p99 ${overall.p99.toFixed(2)} ms`);
  console.log(
    `on / off throughput = ${(ratio * 100).toFixed(1)} % (median of ${pairs.length} neighbouring pairs; middle half ${(quartile(0.25) * 100).toFixed(1)}–${(quartile(0.75) * 100).toFixed(1)} %; goal ≥ 95 %): ${ratio >= 0.95 ? 'met' : 'NOT met'}`,
  );
  console.log(`on / off by sidecar CPU per request = ${(cpuRatio * 100).toFixed(1)} %`);
  console.log(`control plane counted ${stat.services[0]?.inbound?.requests ?? 0} requests at app in its 10 min window`);
  console.log(
    JSON.stringify({
      profile: values.profile,
      aa: values.aa,
      windows: WINDOWS,
      windowSeconds: WINDOW_SECONDS,
      connections: CONNECTIONS,
      on,
      off,
      ratio,
      cpuRatio,
      middleHalf: [quartile(0.25), quartile(0.75)],
    }),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Requests nginx has completed since it started (stub_status, on a port of its own). */
async function nginxRequests(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  const counts = /\n\s*(\d+)\s+(\d+)\s+(\d+)\s*\n/.exec(text);
  if (!counts) throw new Error(`nginx stub_status said: ${text}`);
  return Number(counts[3]);
}

async function wrk(url: string, seconds: number): Promise<{ rps: number; requests: number; p50: number; p99: number }> {
  const { stdout } = await run(
    'taskset',
    [
      ...['-c', '0', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', 'Host: app'],
      ...(values['client-header'] ? ['-H', values['client-header']] : []),
      url,
    ],
    {
      timeout: (seconds + 30) * 1000,
    },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} failed responses:\n${stdout}`);
  const pct = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout);
    if (!m) throw new Error(`no ${p}% latency in wrk output:\n${stdout}`);
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  return { rps, requests, p50: pct('50'), p99: pct('99') };
}

async function waitSynced(adminUrl: string, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = (await (await fetch(`${adminUrl}/api/status`)).json()) as { changeId: number; sidecars: { syncedChangeId: number }[] };
    if (status.sidecars.length === count && status.sidecars.every((s) => s.syncedChangeId >= status.changeId)) return;
    if (Date.now() > deadline) throw new Error('sidecars did not sync');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// If this process dies before its `finally` (an uncaught error, or its stdout closed under
// it, as `| head` does), what it started stops with it instead of loading the machine on.
// SIGTERM: nginx's master then stops its worker, and the sidecars drain.
process.on('exit', () => {
  for (const child of children) child.process.kill('SIGTERM');
});

// Ctrl-C or a kill still stops every process this run started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all(children.map((child) => child.stop())).finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

try {
  await main();
} finally {
  for (const child of children.reverse()) await child.stop();
  rmSync(dir, { recursive: true, force: true });
}
