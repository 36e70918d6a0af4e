// Micro-benchmark: what telemetry adds to one request's two hops in-process (the client
// sidecar's begin → routed → attempted → onOutcome, the server sidecar's begin → forwarding
// → onOutcome), against the same hops with telemetry off (forwarding headers and outcomes
// only). Each hop's head is rendered and written as the codec does, the inbound's parser
// (llhttp) reads the client hop's, and its peer connections carry their identities as the
// TLS handshake gives them. CPU time per request, in batches of 1,000 with the event loop
// turning between them.
//
//   npx node proxy/bench/telemetry-per-request.ts [access-log: off|on] [trace sample rate, default 0.01]
//
// With `repeat on|off <n>` it only runs n requests, one mode, untimed, at the defaults: what
// telemetry-instructions.ts counts the instructions of.
import type { Socket } from 'node:net';
import { pino } from 'pino';
import type { ClusterSpec } from '../src/cluster/cluster-manager.ts';
import type { ProxyRequest } from '../src/http/exchange.ts';
import { forwardRequestHeaders } from '../src/http/headers.ts';
import { Outcome } from '../src/http/request-outcome.ts';
import { MessageParser, NO_BODY } from '../src/http1/llhttp.ts';
import { requestHead } from '../src/http1/message-head.ts';
import { attempted, Telemetry } from '../src/telemetry/telemetry.ts';
import { setPeerIdentity } from '../src/tls/peer-identity.ts';

const repeat = process.argv[2] === 'repeat';
const accessLog = !repeat && process.argv[2] === 'on';
const sampleRate = repeat ? 0.01 : Number(process.argv[3] ?? '0.01');
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
// Eight pooled connections from the client sidecar, each told its peer's identity at its
// handshake, as a slice of the certificate's SAN text (what TLS hands over).
const peerConnections = Array.from({ length: 8 }, (_, i) => {
  const connection = { remoteAddress: '127.0.0.1' } as Socket;
  setPeerIdentity(connection, `URI:spiffe://cluster.local/ns/default/sa/client#${i}`.slice(4, -2));
  return connection;
});
let nextPeer = 0;
const introduced = new Set<Socket>();
/** The wire between the hops: each hop's head is rendered and written as the codec does. */
const wire = Buffer.allocUnsafe(4096);
/** Writes a request head to the wire (as latin1, as the codec writes it, ending with the
 * blank line); returns its length. */
function sent(headers: readonly string[]): number {
  return wire.write(`${requestHead('GET', '/', headers)}\r\n`, 0, 'latin1');
}
/** The headers of the head on the wire, as the inbound's parser (llhttp, as the codec runs
 * it) hands them over: new strings per request. */
let parsed: string[] = [];
const parser = new MessageParser('request', 16 * 1024, {
  onHead: (_minor, headers) => {
    parsed = headers;
    return NO_BODY;
  },
  onBody: () => {},
  onComplete: () => {},
  onExecute: () => {},
  onFailure: (error) => {
    throw error;
  },
});
function received(length: number): string[] {
  const result = parser.execute(wire.subarray(0, length));
  if (typeof result !== 'number') throw new Error(`the parser refused the head: ${result.message}`);
  return parsed;
}

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
  // The request id as the outbound listener makes it: the one telemetry asks for, if any.
  const toPeer = forwardRequestHeaders(fromApp, {
    clientAddress: '127.0.0.1',
    host: undefined,
    requestId: client.requestIdFor(out.telemetry),
  });
  if (out.telemetry) {
    client.routed(out.telemetry, toPeer, 'default/app/0', cluster);
    attempted(out.telemetry, endpoint);
  }
  const peerConnection = peerConnections[nextPeer++ & 7] as Socket;
  // A connection's first request also says who is calling (the pools' connectionHeaders).
  const first = telemetry && !introduced.has(peerConnection);
  if (first) introduced.add(peerConnection);
  const fromPeer = received(sent(first ? [...toPeer, ...client.connectionHeaders] : toPeer));
  const into = new Outcome('inbound', 'GET', performance.now());
  if (telemetry) into.telemetry = server.begin(request(fromPeer, peerConnection), 'inbound', into.startMs);
  const toApp = forwardRequestHeaders(fromPeer, {
    clientAddress: '127.0.0.1',
    host: undefined,
    peerIdentity: 'spiffe://cluster.local/ns/default/sa/client',
  });
  if (into.telemetry) server.forwarding(into.telemetry, toApp, '127.0.0.1:80');
  sent(toApp);
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

if (repeat) {
  const mode = process.argv[3];
  const n = Number(process.argv[4]);
  if ((mode !== 'on' && mode !== 'off') || !(n >= 0)) throw new Error('repeat: on|off, then a number of requests');
  for (let i = 0; i < n; i++) hops(mode === 'on');
  client.close();
  server.close();
  process.exit(0);
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** CPU ns per request over `batches` batches of 1,000. */
async function measure(telemetry: boolean, batches: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < batches; i++) {
    for (let j = 0; j < 1000; j++) hops(telemetry);
    await turn();
  }
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / (batches * 1000);
}

await measure(false, 100);
await measure(true, 100);
// Short slices in the order off on on off, so the host's drift cancels within each group;
// the result is the median of the groups' differences.
const off: number[] = [];
const added: number[] = [];
for (let group = 0; group < 15; group++) {
  const a = await measure(false, 40);
  const b = await measure(true, 40);
  const c = await measure(true, 40);
  const d = await measure(false, 40);
  off.push((a + d) / 2);
  added.push((b + c - a - d) / 2);
}
const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)] as number;
const quartiles = sorted(added);
console.log(
  `two hops, access log ${accessLog ? 'on' : 'off'}, ${sampleRate * 100} % of traces: ` +
    `${median(off).toFixed(0)} ns without telemetry, +${median(added).toFixed(0)} ns per request with it, both hops ` +
    `(middle half +${(quartiles[3] as number).toFixed(0)}–${(quartiles[11] as number).toFixed(0)} ns)`,
);
client.close();
server.close();
