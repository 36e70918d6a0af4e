// CA issuance rate next to `openssl speed rsa2048` sign/s, measured in the same run,
// interleaved (openssl, weft, openssl, weft, …) so both see the same machine load.
// One core, one thread each, like openssl speed. The CA is the default one: an RSA-2048
// root built by @weft/certs; each certificate is for a fresh-looking ECDSA P-256 key.
//
//   npx node bench/identity/ca-issuance.ts [--rounds 7] [--seconds 3]
//
// The headline is the median of the per-round ratios: each ratio compares two measurements
// taken seconds apart, so slow drifts in machine load cancel out.
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

function perSecond(work: (i: number) => void): number {
  for (let i = 0; i < 200; i++) work(i); // warm up
  const until = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  while (performance.now() < until) {
    for (let j = 0; j < 50; j++) work(n++);
  }
  return n / ((performance.now() - started) / 1000);
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const rows: { openssl: number; issue: number; csrIssue: number }[] = [];
for (let r = 0; r < rounds; r++) {
  const openssl = opensslSignPerSecond();
  const issue = perSecond(issueOnly);
  const csrIssue = perSecond(csrAndIssue);
  rows.push({ openssl, issue, csrIssue });
  console.error(
    `round ${r + 1}: openssl ${openssl.toFixed(0)} sign/s, issue ${issue.toFixed(0)}/s, CSR check + issue ${csrIssue.toFixed(0)}/s`,
  );
}
const m = {
  openssl: median(rows.map((r) => r.openssl)),
  issue: median(rows.map((r) => r.issue)),
  csrIssue: median(rows.map((r) => r.csrIssue)),
};
console.log(
  JSON.stringify(
    {
      node: process.version,
      openssl: execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim(),
      rounds,
      secondsPerMeasurement: seconds,
      medians: {
        opensslRsa2048SignPerSecond: Math.round(m.openssl),
        caIssuePerSecond: Math.round(m.issue),
        caCsrCheckAndIssuePerSecond: Math.round(m.csrIssue),
      },
      medianRatioToOpenssl: {
        issue: +median(rows.map((r) => r.issue / r.openssl)).toFixed(3),
        csrCheckAndIssue: +median(rows.map((r) => r.csrIssue / r.openssl)).toFixed(3),
      },
      ratioPerRound: rows.map((r) => +(r.issue / r.openssl).toFixed(3)),
    },
    null,
    2,
  ),
);
