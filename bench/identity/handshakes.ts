// Full mTLS handshakes per second between two sidecars: the client side is the sidecar's
// own connector (proxy/src/tls/client-tls.ts: TLS 1.3, ECDSA P-256 certificate from the
// mesh CA, ALPN, SPIFFE ID check) running in this process with a certificate issued by
// the control plane, the server side is a real sidecar's inbound port. Each connection
// does the whole handshake (no session resumption) and is closed at once. Also reports the
// handshake latency of one connection at a time.
//
//   npx node bench/identity/handshakes.ts [--seconds 10] [--concurrency 16]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Credentials, createCsr, generateWorkloadKey, TrustBundle } from '@weft/certs';
import { mtlsConnector } from '../../proxy/src/tls/client-tls.ts';
import { startApp, startControlPlane, startSidecar, stopAll, waitForSync } from './mesh.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '16' } } });
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

const mesh = `apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: b}
spec: {port: 80}
`;

try {
  const cp = await startControlPlane(mesh);
  const appPort = await startApp();
  const b = await startSidecar(cp, 'b', { appPort });
  await waitForSync(cp, 1);

  // A client identity from the CA, as sidecar a would hold it.
  const bundle = TrustBundle.fromPem(readFileSync(cp.trustBundle, 'utf8'), 'bundle');
  if (!bundle.ok) throw new Error(bundle.error);
  const credentials = new Credentials(bundle.bundle);
  const key = generateWorkloadKey();
  const token = (
    (await (await fetch(`${cp.admin}/api/tokens`, { method: 'POST', body: JSON.stringify({ service: 'a' }) })).json()) as { token: string }
  ).token;
  const { certify } = await import('./certify.ts');
  credentials.setCertificate(key, await certify(cp, createCsr(key, 'spiffe://cluster.local/ns/default/sa/a'), token));

  const connect = mtlsConnector(credentials, 'spiffe://cluster.local/ns/default/sa/b', 5000);
  const target = { hostname: '127.0.0.1', host: '127.0.0.1', port: String(b.inbound), protocol: 'http:', servername: '' } as never;
  const handshake = () =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      connect(target, (error, socket) => {
        if (error || !socket) return reject(error);
        const ms = performance.now() - started;
        socket.destroy();
        resolve(ms);
      });
    });

  // Latency, one at a time.
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) latencies.push(await handshake());
  latencies.sort((x, y) => x - y);

  // Throughput, `concurrency` at a time.
  let done = 0;
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      await handshake().then(
        () => done++,
        () => failed++,
      );
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const pct = (p: number) => +(latencies[Math.floor(latencies.length * p)] as number).toFixed(2);
  console.log(
    JSON.stringify(
      {
        handshakesPerSecond: Math.round(done / elapsed),
        failed,
        concurrency,
        seconds,
        sequentialHandshakeMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99) },
      },
      null,
      2,
    ),
  );
} finally {
  await stopAll();
}
