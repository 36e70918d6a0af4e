// CA issuance rate next to `openssl speed rsa2048` sign/s, measured in the same run,
// interleaved (openssl, weft, openssl, weft, …) so both see the same machine load.
// One core, one thread each, like openssl speed. The CA is the default one: an RSA-2048
// root built by @weft/certs; each certificate is for a fresh-looking ECDSA P-256 key.
//
//   npx node bench/identity/ca-issuance.ts [--rounds 7] [--seconds 3]
//
// The headline is the median of the per-round ratios: each ratio compares two measurements
// taken seconds apart, so slow drifts in machine load cancel out. `openssl speed` divides
// by the CPU user time it used, so that is what the headline compares (our side: this
// process's user CPU time). With -elapsed it divides by wall-clock time; that pair is
// reported too, and is the fairer one on an idle machine only.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CertificateAuthority, createCsr, createRootCa, parseCsr, publicKeyInfo } from '@weft/certs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, seconds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);

const root = createRootCa({ trustDomain: 'cluster.local', validityMs: 365 * 86_400_000 });
const loaded = CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem, trustDomain: 'cluster.local' });
if (!loaded.ok) throw new Error(loaded.errors.join('; '));
const ca = loaded.ca;
const spiffeId = 'spiffe://cluster.local/ns/default/sa/orders';
// 64 workload keys, rotated through, so no step can cache per key.
const keys = Array.from({ length: 64 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
const publicKeys = keys.map((k) => publicKeyInfo(k));
const csrs = keys.map((k) => createCsr(k, spiffeId));

function opensslSignPerSecond(): number {
  const out = execFileSync('openssl', ['speed', '-seconds', String(seconds), 'rsa2048'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = out.split('\n').find((l) => l.startsWith('rsa 2048 bits'));
  const fields = line?.trim().split(/\s+/) ?? [];
  return Number(fields[5]); // rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>
}

/** Operations per second of user CPU time and of wall-clock time, over `seconds` of wall time. */
function perSecond(work: (i: number) => void): { cpu: number; wall: number } {
  for (let i = 0; i < 200; i++) work(i); // warm up
  const until = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage().user;
  while (performance.now() < until) {
    for (let j = 0; j < 50; j++) work(n++);
  }
  return { cpu: n / ((process.cpuUsage().user - cpuStarted) / 1e6), wall: n / ((performance.now() - started) / 1000) };
}

const issueOnly = (i: number) => {
  ca.issue({ publicKey: publicKeys[i % 64] as never, spiffeId, ttlMs: 86_400_000 });
};
// What the CA service does per request, minus gRPC: parse and verify the CSR, then issue.
const csrAndIssue = (i: number) => {
  const parsed = parseCsr(csrs[i % 64] as Buffer);
  if (!parsed.ok) throw new Error(parsed.error);
  ca.issue({ publicKey: parsed.csr.publicKey, spiffeId, ttlMs: 86_400_000 });
};

/** issueAsync with 64 requests in flight (as the CA service runs it): signatures on the
 * libuv threadpool, so every core helps. Wall-clock rate. */
async function asyncPerSecond(): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < until) {
      await ca.issueAsync({ publicKey: publicKeys[n++ % 64] as never, spiffeId, ttlMs: 86_400_000 });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return n / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
interface Round {
  readonly openssl: number;
  readonly opensslElapsed: number;
  readonly issue: { cpu: number; wall: number };
  readonly csrIssue: { cpu: number; wall: number };
}
const rows: Round[] = [];
for (let r = 0; r < rounds; r++) {
  const openssl = opensslSignPerSecond(false);
  const issue = perSecond(issueOnly);
  const opensslElapsed = opensslSignPerSecond(true);
  const csrIssue = perSecond(csrAndIssue);
  rows.push({ openssl, opensslElapsed, issue, csrIssue });
  console.error(
    `round ${r + 1}: openssl ${openssl.toFixed(0)} sign/s (CPU), ${opensslElapsed.toFixed(0)} (wall); ` +
      `issue ${issue.cpu.toFixed(0)}/s (CPU), ${issue.wall.toFixed(0)} (wall); CSR check + issue ${csrIssue.cpu.toFixed(0)}/s (CPU)`,
  );
}
// All cores: the threadpool against `openssl speed -multi <cores>`, both wall clock.
const cores = (await import('node:os')).availableParallelism();
const multiOut = execFileSync('openssl', ['speed', '-elapsed', '-multi', String(cores), '-seconds', String(seconds), 'rsa2048'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
});
const opensslMulti = Number(
  multiOut
    .split('\n')
    .find((l) => l.startsWith('rsa 2048 bits'))
    ?.trim()
    .split(/\s+/)[5],
);
const asyncRate = await asyncPerSecond();
console.error(`all ${cores} cores: openssl -multi ${opensslMulti.toFixed(0)} sign/s, issueAsync ${asyncRate.toFixed(0)}/s`);
const med = (f: (r: Round) => number) => Math.round(median(rows.map(f)));
const ratio = (f: (r: Round) => number) => +median(rows.map(f)).toFixed(3);
console.log(
  JSON.stringify(
    {
      node: process.version,
      openssl: execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim(),
      rounds,
      secondsPerMeasurement: seconds,
      loadAverage: (await import('node:os')).loadavg().map((l) => +l.toFixed(2)),
      cpuTime: {
        opensslRsa2048SignPerSecond: med((r) => r.openssl),
        caIssuePerSecond: med((r) => r.issue.cpu),
        caCsrCheckAndIssuePerSecond: med((r) => r.csrIssue.cpu),
        medianRatio: { issue: ratio((r) => r.issue.cpu / r.openssl), csrCheckAndIssue: ratio((r) => r.csrIssue.cpu / r.openssl) },
      },
      allCores: {
        cores,
        opensslMultiSignPerSecond: Math.round(opensslMulti),
        caIssueAsyncPerSecond: Math.round(asyncRate),
        ratio: +(asyncRate / opensslMulti).toFixed(3),
      },
      wallClock: {
        opensslRsa2048SignPerSecond: med((r) => r.opensslElapsed),
        caIssuePerSecond: med((r) => r.issue.wall),
        medianRatio: { issue: ratio((r) => r.issue.wall / r.opensslElapsed) },
      },
    },
    null,
    2,
  ),
);
