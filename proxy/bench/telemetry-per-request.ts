// Micro-benchmark: what telemetry adds to one request's two hops in-process (the client
// sidecar's begin → routed → attempted → onOutcome, the server sidecar's begin → forwarding
// → onOutcome), against the same hops with telemetry off (forwarding headers and outcomes
// only). CPU time per request, batches of 1,000 with the event loop turning between them.
//
//   npx node proxy/bench/telemetry-per-request.ts [access-log: off|on] [trace sample rate, default 0.01]
import type { Socket } from 'node:net';
import { pino } from 'pino';
import type { ClusterSpec } from '../src/cluster/cluster-manager.ts';
import type { ProxyRequest } from '../src/http/exchange.ts';
import { forwardRequestHeaders } from '../src/http/headers.ts';
import { Outcome } from '../src/http/request-outcome.ts';
import { attempted, Telemetry } from '../src/telemetry/telemetry.ts';
import { setPeerIdentity } from '../src/tls/peer-identity.ts';

const accessLog = process.argv[2] === 'on';
const sampleRate = Number(process.argv[3] ?? '0.01');
const sidecar = (service: string) =>
  new Telemetry(
    {
      enabled: true,
      self: { service, namespace: 'default', version: 'v1', identity: `spiffe://cluster.local/ns/default/sa/${service}` },
      traceSampleRate: sampleRate,
      accessLog: { target: accessLog ? '/dev/null' : 'off', sampleRate: 1 },
    },
    pino.destination('/dev/null'),
  );
const client = sidecar('client');
const server = sidecar('app');
const cluster = { service: 'app', namespace: 'default' } as ClusterSpec;
const endpoint = { labels: { version: 'v1' }, identity: 'spiffe://cluster.local/ns/default/sa/app' };
const appConnection = { remoteAddress: '127.0.0.1' } as Socket;
const peerConnection = { remoteAddress: '127.0.0.1' } as Socket;
setPeerIdentity(peerConnection, 'spiffe://cluster.local/ns/default/sa/client');
const fromApp = ['Host', 'app', 'User-Agent', 'wrk', 'Accept', '*/*'];
const request = (rawHeaders: readonly string[], connection: Socket): ProxyRequest => ({
  method: 'GET',
  url: '/',
  httpVersionMajor: 1,
  rawHeaders,
  headers: {},
  connection,
  body: undefined,
});

function hops(telemetry: boolean): void {
  const out = new Outcome('outbound', 'GET', performance.now());
  if (telemetry) out.telemetry = client.begin(request(fromApp, appConnection), 'outbound', out.startMs);
  const toPeer = forwardRequestHeaders(fromApp, { clientAddress: '127.0.0.1', host: undefined });
  if (out.telemetry) {
    client.routed(out.telemetry, toPeer, 'default/app/0', cluster);
    attempted(out.telemetry, endpoint);
  }
  const into = new Outcome('inbound', 'GET', performance.now());
  if (telemetry) into.telemetry = server.begin(request(toPeer, peerConnection), 'inbound', into.startMs);
  const toApp = forwardRequestHeaders(toPeer, {
    clientAddress: '127.0.0.1',
    host: undefined,
    peerIdentity: 'spiffe://cluster.local/ns/default/sa/client',
  });
  if (into.telemetry) server.forwarding(into.telemetry, toApp, '127.0.0.1:80');
  for (const [o, upstream] of [
    [into, '127.0.0.1:80'],
    [out, '127.0.0.1:15006'],
  ] as const) {
    o.status = 200;
    o.attempts = 1;
    o.upstreamAddress = upstream;
    o.end(performance.now());
  }
  if (telemetry) {
    server.onOutcome(into);
    client.onOutcome(out);
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
async function measure(telemetry: boolean): Promise<number> {
  for (let i = 0; i < 100; i++) {
    for (let j = 0; j < 1000; j++) hops(telemetry);
    await turn();
  }
  const before = process.cpuUsage();
  for (let i = 0; i < 300; i++) {
    for (let j = 0; j < 1000; j++) hops(telemetry);
    await turn();
  }
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / 300_000;
}

const results: Record<'off' | 'on', number[]> = { off: [], on: [] };
for (let round = 0; round < 3; round++) {
  results.off.push(await measure(false));
  results.on.push(await measure(true));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(
  `two hops, access log ${accessLog ? 'on' : 'off'}, ${sampleRate * 100} % of traces: ` +
    `${median(results.off).toFixed(0)} ns without telemetry, ${median(results.on).toFixed(0)} ns with ` +
    `(+${(median(results.on) - median(results.off)).toFixed(0)} ns per request, both hops)`,
);
client.close();
server.close();
