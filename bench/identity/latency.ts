// The latency a sidecar pair adds, with mTLS between the sidecars and without. One app,
// three ways to reach it, measured with wrk in interleaved rounds (direct, mTLS, plaintext,
// direct, …) so all three see the same machine load:
//   - direct:    wrk → app
//   - mtls:      wrk → sidecar a (outbound) → mTLS → sidecar b (inbound) → app
//   - plaintext: wrk → sidecar a (outbound) → HTTP → sidecar c (inbound) → app, where
//                service c has `mtls: disabled` (its endpoints carry no identity)
// b and c forward to the same app process. Pooled upstream connections stay warm, so this
// is the steady-state cost of encryption, not of handshakes (see handshakes.ts).
//
//   npx node bench/identity/latency.ts [--rounds 3] [--seconds 10] [--connections 8] [--pin]
// --pin puts wrk on CPU 0 and the sidecars and app on CPU 1 (as in TOOLCHAIN.md).
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startApp, startControlPlane, startSidecar, stopAll, waitForSync } from './mesh.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
    pin: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const proxyCpu = values.pin ? '1' : undefined;

const mesh = ['a', 'b', 'c']
  .map(
    (name) => `apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: ${name}}
spec: {port: 80${name === 'c' ? ', mtls: disabled' : ''}}
`,
  )
  .join('---\n');

interface WrkResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

function wrk(url: string, host: string | undefined): WrkResult {
  const args = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', ...(host ? ['-H', `Host: ${host}`] : []), url];
  const command = values.pin ? 'taskset' : 'wrk';
  const out = execFileSync(command, values.pin ? ['-c', '0', 'wrk', ...args] : args, { encoding: 'utf8' });
  const ms = (label: string) => {
    const match = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!match) throw new Error(`no ${label}% in wrk output:\n${out}`);
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50: ms('50'),
    p99: ms('99'),
    errors: Number(errors) + (socketErrors ? socketErrors.slice(1).reduce((s, n) => s + Number(n), 0) : 0),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

try {
  const cp = await startControlPlane(mesh);
  const appPort = await startApp(proxyCpu);
  const [a] = await Promise.all([
    startSidecar(cp, 'a', { ...(proxyCpu ? { cpu: proxyCpu } : {}) }),
    startSidecar(cp, 'b', { appPort, ...(proxyCpu ? { cpu: proxyCpu } : {}) }),
    startSidecar(cp, 'c', { appPort, ...(proxyCpu ? { cpu: proxyCpu } : {}) }),
  ]);
  await waitForSync(cp, 3);
  const targets = {
    direct: () => wrk(`http://127.0.0.1:${appPort}/`, undefined),
    mtls: () => wrk(`http://127.0.0.1:${a.outbound}/`, 'b'),
    plaintext: () => wrk(`http://127.0.0.1:${a.outbound}/`, 'c'),
  };
  // Warm the pools and the JIT.
  for (const run of Object.values(targets)) run();
  const results: Record<keyof typeof targets, WrkResult[]> = { direct: [], mtls: [], plaintext: [] };
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(targets) as (keyof typeof targets)[]) {
      const result = targets[name]();
      results[name].push(result);
      console.error(
        `round ${r + 1} ${name}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}`,
      );
    }
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, rs]) => [
      name,
      {
        rps: Math.round(median(rs.map((x) => x.rps))),
        p50Ms: median(rs.map((x) => x.p50)),
        p99Ms: median(rs.map((x) => x.p99)),
        errors: rs.reduce((s, x) => s + x.errors, 0),
      },
    ]),
  ) as Record<keyof typeof targets, { rps: number; p50Ms: number; p99Ms: number; errors: number }>;
  console.log(
    JSON.stringify(
      {
        connections,
        seconds,
        rounds,
        pinned: values.pin,
        medians: summary,
        addedByPairP50Ms: {
          mtls: +(summary.mtls.p50Ms - summary.direct.p50Ms).toFixed(3),
          plaintext: +(summary.plaintext.p50Ms - summary.direct.p50Ms).toFixed(3),
        },
        mtlsCostP50Ms: +(summary.mtls.p50Ms - summary.plaintext.p50Ms).toFixed(3),
      },
      null,
      2,
    ),
  );
} finally {
  await stopAll();
}
