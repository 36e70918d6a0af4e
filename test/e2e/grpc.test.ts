// gRPC through a sidecar pair (strict mTLS between them, HTTP/2 end to end): @grpc/grpc-js
// client → A's outbound port (h2c) → A → B over mTLS with ALPN h2 → B → grpc-js server.
// Every call shape, trailing metadata (binary included), a multi-MiB message, grpc-timeout
// honoured and propagated, cancellation both ways, gRPC statuses (not HTTP error pages)
// when the sidecar itself fails a call (authorization included), retries on UNAVAILABLE,
// and the status in telemetry.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, constants, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  echoClient,
  grpc,
  onCleanup,
  promValue,
  route,
  scrape,
  service,
  startControlPlane,
  startGrpcApp,
  startSidecar,
  unary,
  waitForMeshSync,
  waitUntil,
  yamlDocs,
} from '../src/harness/index.ts';

async function grpcPair(extra: string[] = []) {
  const cp = await startControlPlane({
    config: yamlDocs(
      service('client'),
      service('echo', { protocol: 'grpc' }),
      route('echo', {
        hosts: ['echo'],
        rules: [{ timeout: '5s', retries: { attempts: 2, retryOn: ['unavailable'] }, backends: [{ service: 'echo' }] }],
      }),
      ...extra,
    ),
  });
  const app = await startGrpcApp();
  const [a, b] = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress, args: ['--access-log', 'off'] }),
    startSidecar({ service: 'echo', controlPlane: cp.xdsAddress, appPort: app.port, args: ['--access-log', 'off'] }),
  ]);
  await waitForMeshSync(cp, 2);
  return { cp, app, a, b };
}

/** One raw HTTP/2 request to an outbound port, as a gRPC client would send it but without
 * a client-side deadline: what the sidecar answers, headers and trailers. */
async function rawGrpc(port: number, authority: string, path: string, headers: Record<string, string> = {}) {
  const session = connect(`http://127.0.0.1:${port}`);
  onCleanup(() => {
    session.destroy();
  });
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    ':authority': authority,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  // One empty gRPC message: uncompressed flag + zero length.
  stream.end(Buffer.alloc(5));
  const [response, flags] = (await once(stream, 'response')) as [Record<string, string>, number];
  let trailers: Record<string, string> | undefined;
  stream.on('trailers', (t) => {
    trailers = t;
  });
  stream.resume();
  await once(stream, 'close');
  session.close();
  return { response, trailersOnly: (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0, trailers };
}

describe('gRPC through a sidecar pair', () => {
  it('runs every call shape unchanged: trailers with binary metadata, a 6 MiB message, statuses, telemetry', async () => {
    const { a, b, app } = await grpcPair();
    const client = echoClient(a.outboundPort, 'echo');

    // Unary, with custom trailing metadata (text and -bin) through both sidecars.
    const one = await unary(client, Buffer.from('hello'));
    expect(one.error).toBeNull();
    expect(one.response?.toString()).toBe('hello');
    expect(one.trailers?.get('x-trailer')).toEqual(['yes']);
    expect(one.trailers?.get('x-trailer-bin')).toEqual([Buffer.from([0, 1, 0xfe, 0xff])]);
    // The app saw the caller's identity, proved over mTLS on the HTTP/2 hop.
    expect(app.calls.at(-1)?.metadata['x-weft-peer-identity']).toBe('spiffe://cluster.local/ns/default/sa/client');

    // A large message both ways (several HTTP/2 windows).
    const big = Buffer.alloc(6 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const echoed = await unary(client, big);
    expect(echoed.error).toBeNull();
    expect(
      createHash('sha256')
        .update(echoed.response as Buffer)
        .digest('hex'),
    ).toBe(createHash('sha256').update(big).digest('hex'));

    // Client streaming.
    const collected = await new Promise<Buffer>((resolve, reject) => {
      const call = client.ClientStream(new grpc.Metadata(), {}, (error, response) => (error ? reject(error) : resolve(response as Buffer)));
      for (let i = 0; i < 50; i++) call.write(Buffer.from(`${i},`));
      call.end();
    });
    expect(collected.toString().split(',').length).toBe(51);

    // Server streaming, with trailers at the end.
    const stream = client.ServerStream(Buffer.from('20'));
    const received: string[] = [];
    stream.on('data', (m: Buffer) => received.push(m.toString()));
    const [status] = (await once(stream, 'status')) as [grpc.StatusObject];
    expect(status.code).toBe(grpc.status.OK);
    expect(status.metadata.get('x-trailer')).toEqual(['yes']);
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => `message ${i}`));

    // Bidirectional: each message answered before the next is sent (no buffering either way).
    const bidi = client.Bidi();
    for (let i = 0; i < 5; i++) {
      bidi.write(Buffer.from(`ping ${i}`));
      const [reply] = (await once(bidi, 'data')) as [Buffer];
      expect(reply.toString()).toBe(`ping ${i}`);
    }
    bidi.end();
    const [bidiStatus] = (await once(bidi, 'status')) as [grpc.StatusObject];
    expect(bidiStatus.code).toBe(grpc.status.OK);

    // An application error passes through as the app sent it (trailers-only response).
    const failed = await unary(client, Buffer.from('x'), { 'x-fail': String(grpc.status.NOT_FOUND) });
    expect(failed.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(failed.error?.details).toBe('failed on purpose');
    expect(failed.trailers?.get('x-trailer')).toEqual(['yes']);

    // The route retries UNAVAILABLE: the call is sent again, body and all, and succeeds.
    const calls = app.calls.length;
    const retried = await unary(client, Buffer.from('again'), { 'x-fail-once': 'call-1' });
    expect(retried.error).toBeNull();
    expect(retried.response?.toString()).toBe('again');
    expect(app.calls.length - calls).toBe(2);

    // Telemetry labels requests with their gRPC status, on both sidecars.
    await waitUntil(async () => {
      const text = await scrape(b.adminPort);
      return (promValue(text, 'weft_requests_total', { direction: 'inbound', grpc_status: '5' }) ?? 0) >= 1;
    }, 10_000);
    const outbound = await scrape(a.adminPort);
    expect(promValue(outbound, 'weft_requests_total', { direction: 'outbound', grpc_status: '0' })).toBeGreaterThanOrEqual(5);
    expect(promValue(outbound, 'weft_requests_total', { direction: 'outbound', grpc_status: '5' })).toBe(1);
  });

  it('honours and propagates grpc-timeout, cancels both ways, and answers its own failures with gRPC statuses', async () => {
    const policy = stringify({
      apiVersion: 'weft.io/v1alpha1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'echo-callers' },
      spec: { service: 'echo', rules: [{ from: [{ service: 'client' }], pathPrefixes: ['/weft.test.Echo/'] }] },
    });
    const { cp, app, a } = await grpcPair([service('ghost', { protocol: 'grpc' }), policy]);
    const client = echoClient(a.outboundPort, 'echo');

    // The deadline reaches the app decremented, never longer than what the client gave.
    const quick = await unary(client, Buffer.from('x'), {}, { deadline: Date.now() + 3000 });
    expect(quick.error).toBeNull();
    const deadlineMs = app.calls.at(-1)?.deadlineMs ?? Number.NaN;
    expect(deadlineMs).toBeLessThanOrEqual(3000);
    expect(deadlineMs).toBeGreaterThan(500);

    // The sidecar's own deadline: a raw client that does not enforce its grpc-timeout gets
    // DEADLINE_EXCEEDED from the sidecar, as a trailers-only 200 with the response flag.
    const timedOut = await rawGrpc(a.outboundPort, 'echo', '/weft.test.Echo/Unary', { 'grpc-timeout': '300m', 'x-sleep-ms': '3000' });
    expect(timedOut.response[':status']).toBe(200);
    expect(timedOut.trailersOnly).toBe(true);
    expect(timedOut.response['grpc-status']).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(timedOut.response['x-weft-response-flags']).toBe('UT');
    expect(decodeURIComponent(timedOut.response['grpc-message'] ?? '')).toMatch(/grpc-timeout of 300 ms/);
    // and the app's call was cancelled (the upstream stream reset), not left running.
    await waitUntil(async () => app.calls.at(-1)?.cancelled === true, 15_000);

    // A grpc-js deadline: DEADLINE_EXCEEDED, whoever notices first.
    const late = await unary(client, Buffer.from('x'), { 'x-sleep-ms': '3000' }, { deadline: Date.now() + 300 });
    expect(late.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);

    // Client cancellation reaches the app as a cancelled call.
    const before = app.calls.length;
    const cancelled = client.Unary(Buffer.from('x'), metadata({ 'x-sleep-ms': '5000' }), {}, () => {});
    await waitUntil(async () => app.calls.length > before, 15_000);
    cancelled.cancel();
    await waitUntil(async () => app.calls.at(-1)?.cancelled === true, 15_000);

    // Authorization applies per call: a method no rule allows is PERMISSION_DENIED, RBAC.
    const denied = await rawGrpc(a.outboundPort, 'echo', '/weft.test.Admin/Reset');
    expect(denied.trailersOnly).toBe(true);
    expect(denied.response['grpc-status']).toBe(String(grpc.status.PERMISSION_DENIED));
    expect(denied.response['x-weft-response-flags']).toBe('RBAC');
    expect(decodeURIComponent(denied.response['grpc-message'] ?? '')).toMatch(/denied by AuthorizationPolicy default\/echo-callers/);

    // Nothing behind the name: UNAVAILABLE naming the cause, with the flag, not an HTTP page.
    const ghost = echoClient(a.outboundPort, 'ghost');
    const none = await unary(ghost, Buffer.from('x'));
    expect(none.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(none.error?.details).toMatch(/no endpoint available for "ghost/);
    const rawNone = await rawGrpc(a.outboundPort, 'ghost', '/weft.test.Echo/Unary');
    expect(rawNone.trailersOnly).toBe(true);
    expect(rawNone.response[':status']).toBe(200);
    expect(rawNone.response['x-weft-response-flags']).toBe('UH');

    // A server that dies mid-stream: the client sees the stream fail, not a clean end.
    const aborter = await startAbortingApp();
    await startSidecar({ service: 'ghost', controlPlane: cp.xdsAddress, appPort: aborter });
    await waitForMeshSync(cp, 3);
    const torn = ghost.ServerStream(Buffer.from('5'));
    const parts: Buffer[] = [];
    torn.on('data', (m: Buffer) => parts.push(m));
    torn.on('error', () => {});
    const tornStatus = await new Promise<grpc.StatusObject>((resolve) => torn.on('status', resolve));
    expect(parts.map(String)).toEqual(['first']);
    expect(tornStatus.code).toBe(grpc.status.INTERNAL);
    expect(tornStatus.details).toMatch(/RST_STREAM with code 2/);
  });
});

function metadata(values: Record<string, string>): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(values)) m.set(k, v);
  return m;
}

/** An HTTP/2 app that answers any call with one gRPC message, then resets the stream. */
async function startAbortingApp(): Promise<number> {
  const server = createH2Server();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const message = Buffer.from('first');
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    stream.write(frame);
    // destroy, not close(code): close ends the stream cleanly once the request has ended.
    setTimeout(() => stream.destroy(new Error('app died')), 100);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  );
  const sessions = new Set<import('node:http2').Http2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return (server.address() as AddressInfo).port;
}
