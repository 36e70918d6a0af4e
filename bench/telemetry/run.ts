// Telemetry cost: throughput and latency through one sidecar pair (wrk → client sidecar →
// server sidecar → nginx) with telemetry on versus paused, in the same run and the same
// processes, rounds interleaved. Goal: "on" keeps at least 95 % of "off". `--profile full`
// (the default) is everything: metrics, the telemetry stream, every request traced and in the
// access log; `--profile defaults` is a sidecar as it runs by default (metrics, the stream,
// 1 % of new traces, no access log).
//
//   npx node bench/telemetry/run.ts [--profile full|defaults] [--rounds 10] [--seconds 5] [--connections 64] [--aa] [--cpu-prof DIR]
//
// --aa runs telemetry on in both slots: the spread it shows is this machine's noise.
// Besides req/s, it reports the sidecars' CPU time per request (from /proc), which other
// load on the machine moves less than throughput.
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

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '5' },
    aa: { type: 'boolean', default: false },
    connections: { type: 'string', default: '64' },
    profile: { type: 'string', default: 'full' },
    // Extra sidecar flags, to measure one part alone (e.g. "--access-log off").
    'sidecar-args': { type: 'string', default: '' },
    // Write each sidecar's V8 CPU profile into this directory (open in Chrome DevTools).
    'cpu-prof': { type: 'string' },
  },
});
const EXTRA = values['sidecar-args'] ? values['sidecar-args'].split(' ') : [];
if (values.profile !== 'full' && values.profile !== 'defaults') throw new Error(`--profile: full or defaults, not ${values.profile}`);
const FULL = values.profile === 'full';
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);

interface Sample {
  readonly mode: 'on' | 'off';
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU time both sidecars spent per request (µs): unlike req/s, other load on the machine hardly moves it. */
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
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${appPort}; location / { return 200 'ok\\n'; } } }
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

  const samples: Sample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order: ('on' | 'off')[] = round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const mode of order) {
      await setMode(mode);
      const cpuBefore = cpuMicros(server.pid) + cpuMicros(client.pid);
      const result = await wrk(url, SECONDS);
      const cpuUsPerRequest = (cpuMicros(server.pid) + cpuMicros(client.pid) - cpuBefore) / result.requests;
      samples.push({ mode, rps: result.rps, p50: result.p50, p99: result.p99, cpuUsPerRequest });
      console.log(
        `round ${round + 1} telemetry ${mode.padEnd(3)}  ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  sidecar CPU ${cpuUsPerRequest.toFixed(0)} µs/request`,
      );
    }
  }
  await setMode('on');
  const stat = (await (await fetch(`${adminUrl}/api/stat?window=10m&service=app`)).json()) as {
    services: { inbound: { requests: number } | null }[];
  };

  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  };
  const summary = (mode: 'on' | 'off') => {
    const xs = samples.filter((s) => s.mode === mode);
    return {
      rps: median(xs.map((s) => s.rps)),
      p50: median(xs.map((s) => s.p50)),
      p99: median(xs.map((s) => s.p99)),
      cpuUsPerRequest: median(xs.map((s) => s.cpuUsPerRequest)),
    };
  };
  const on = summary('on');
  const off = summary('off');
  const ratio = on.rps / off.rps;
  // Throughput the sidecars' CPU allows (they are CPU-bound): what "off" costs over what "on" costs.
  const cpuRatio = off.cpuUsPerRequest / on.cpuUsPerRequest;
  console.log('');
  console.log(`telemetry  req/s (median of ${ROUNDS})  p50 ms  p99 ms  sidecar CPU µs/request`);
  const row = (name: string, m: typeof on) =>
    `${name.padEnd(9)}  ${m.rps.toFixed(0).padStart(20)}  ${m.p50.toFixed(2).padStart(6)}  ${m.p99.toFixed(2).padStart(6)}  ${m.cpuUsPerRequest.toFixed(0).padStart(22)}`;
  console.log(row('on', on));
  console.log(row('off', off));
  console.log(`on / off throughput = ${(ratio * 100).toFixed(1)} % (goal ≥ 95 %): ${ratio >= 0.95 ? 'met' : 'NOT met'}`);
  console.log(
    `on / off by sidecar CPU per request = ${(cpuRatio * 100).toFixed(1)} % (the same measure, immune to other load on the machine)`,
  );
  console.log(`control plane counted ${stat.services[0]?.inbound?.requests ?? 0} requests at app in its 10 min window`);
  console.log(
    JSON.stringify({ profile: values.profile, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, on, off, ratio, cpuRatio }),
  );
}

async function wrk(url: string, seconds: number): Promise<{ rps: number; requests: number; p50: number; p99: number }> {
  const { stdout } = await run(
    'taskset',
    ['-c', '0', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', 'Host: app', url],
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

try {
  await main();
} finally {
  for (const child of children.reverse()) await child.stop();
  rmSync(dir, { recursive: true, force: true });
}
