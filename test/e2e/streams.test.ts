// Upgrades and streams through a sidecar pair over strict mTLS: WebSocket echo both ways
// with a close from each side, server-sent events that arrive before the app has produced
// the last one, chunked responses whose trailers survive (curl --raw shows them), a chunked
// request whose trailers reach the app (raw socket: curl cannot send request trailers), and
// a 10 MiB upload whose sha256 matches at the app.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { stringify } from 'yaml';
import {
  onCleanup,
  promValue,
  scrape,
  service,
  startControlPlane,
  startSidecar,
  tempDir,
  waitForMeshSync,
  waitUntil,
  yamlDocs,
} from '../src/harness/index.ts';

interface StreamApp {
  readonly port: number;
  /** Lets the SSE handler produce its last event. */
  releaseLastEvent(): void;
  /** Whether the SSE handler has written its last event. */
  lastEventWritten: boolean;
  /** Trailers of the last request that had a body. */
  requestTrailers: Record<string, string> | undefined;
  uploads: { bytes: number; sha256: string }[];
}

async function startStreamApp(): Promise<StreamApp> {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const app: StreamApp = {
    port: 0,
    releaseLastEvent: () => release(),
    lastEventWritten: false,
    requestTrailers: undefined,
    uploads: [],
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      released.then(() => {
        app.lastEventWritten = true;
        res.end('data: last\n\n');
      });
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      if (req.url === '/trailers') {
        app.requestTrailers = { ...req.trailers } as Record<string, string>;
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        res.write('hello ');
        res.write('world');
        res.addTrailers({ 'x-checksum': 'abc123', 'x-count': '2' });
        res.end();
        return;
      }
      const sha256 = hash.digest('hex');
      app.uploads.push({ bytes, sha256 });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, sha256 }));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/chat') wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    else socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 12\r\nconnection: close\r\n\r\nnot upgraded');
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, binary) => {
      const text = data.toString();
      if (text === 'close please') ws.close(4001, 'server says bye');
      else ws.send(binary ? data : `echo: ${text}`, { binary });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return Object.assign(app, { port: (server.address() as AddressInfo).port });
}

/** The client may upgrade on /chat and /plain only (AuthorizationPolicy, checked at the app's sidecar). */
const upgradePolicy = stringify({
  apiVersion: 'weft.io/v1alpha1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'streams-callers' },
  spec: {
    service: 'streams',
    rules: [{ from: [{ service: 'client' }], pathPrefixes: ['/chat', '/plain', '/events', '/trailers', '/upload'] }],
  },
});

async function mesh() {
  const cp = await startControlPlane({ config: yamlDocs(service('client', { calls: ['streams'] }), service('streams'), upgradePolicy) });
  const app = await startStreamApp();
  const [client] = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
    startSidecar({ service: 'streams', controlPlane: cp.xdsAddress, appPort: app.port }),
  ]);
  await waitForMeshSync(cp, 2);
  return { client, app };
}

function run(command: string, args: readonly string[], onStdout?: (text: string) => void) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    onStdout?.(stdout);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
  return { done, stdout: () => stdout };
}

function openWebSocket(port: number, path = '/chat'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host: 'streams' } });
  onCleanup(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })));
}

describe('upgrades and streams through a sidecar pair', () => {
  it('passes WebSocket both ways and closes from either side', async () => {
    const { client } = await mesh();

    const ws = await openWebSocket(client.outboundPort);
    const reply = nextMessage(ws);
    ws.send('hello');
    expect((await reply).data.toString()).toBe('echo: hello');
    const payload = randomBytes(256 * 1024);
    const binary = nextMessage(ws);
    ws.send(payload);
    const echoed = await binary;
    expect(echoed.binary).toBe(true);
    expect(Buffer.compare(echoed.data, payload)).toBe(0);
    // The client closes: the app's close frame comes back and the socket ends.
    const closed = once(ws, 'close');
    ws.close(1000, 'client done');
    const [code, reason] = await closed;
    expect(code).toBe(1000);
    expect(String(reason)).toBe('client done');

    // The app closes.
    const second = await openWebSocket(client.outboundPort);
    const serverClosed = once(second, 'close');
    second.send('close please');
    const [serverCode, serverReason] = await serverClosed;
    expect(serverCode).toBe(4001);
    expect(String(serverReason)).toBe('server says bye');

    // An upgrade the app does not take is answered as a normal response.
    const socket = connect(client.outboundPort, '127.0.0.1');
    onCleanup(() => {
      socket.destroy();
    });
    await once(socket, 'connect');
    socket.write('GET /plain HTTP/1.1\r\nHost: streams\r\nConnection: upgrade\r\nUpgrade: something-else\r\n\r\n');
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      answer += d;
    });
    await once(socket, 'end');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\n\r\nnot upgraded$/);
    expect(answer).not.toMatch(/x-weft-response-flags/i);

    // Authorization applies to upgrades as to requests: a path the policy does not allow is refused.
    await expect(openWebSocket(client.outboundPort, '/admin')).rejects.toThrow('unexpected response 403');
    // And telemetry counts them: the 101s, the plain answer and the refusal, at the caller's sidecar.
    // (An upgraded request is recorded when its connection has closed on the sidecar too.)
    let metrics = '';
    await waitUntil(
      async () => {
        metrics = await scrape(client.adminPort);
        return promValue(metrics, 'weft_requests_total', { direction: 'outbound', status_code: '101' }) === 2;
      },
      5000,
      () => `two upgrades counted:\n${metrics}`,
    );
    expect(promValue(metrics, 'weft_requests_total', { direction: 'outbound', status_code: '200' })).toBe(1);
    expect(promValue(metrics, 'weft_requests_total', { direction: 'outbound', status_code: '403' })).toBe(1);
  });

  // One mesh for the three: each sidecar pair start costs seconds on a loaded machine.
  it('streams without buffering: SSE before the last event, trailers both ways, a 10 MiB upload', async () => {
    const { client, app } = await mesh();

    // Server-sent events: the first reaches curl before the app writes the last.
    let sawFirst = false;
    let lastWrittenWhenFirstSeen: boolean | undefined;
    const events = run(
      'curl',
      ['-sN', '--max-time', '20', '-H', 'Host: streams', `http://127.0.0.1:${client.outboundPort}/events`],
      (out) => {
        if (!sawFirst && out.includes('data: first')) {
          sawFirst = true;
          lastWrittenWhenFirstSeen = app.lastEventWritten;
          app.releaseLastEvent();
        }
      },
    );
    const streamed = await events.done;
    expect(streamed.code).toBe(0);
    expect(sawFirst).toBe(true);
    expect(lastWrittenWhenFirstSeen).toBe(false);
    expect(streamed.stdout).toBe('data: first\n\ndata: last\n\n');

    // Trailers of a chunked response (curl --raw shows the framing) and of a chunked request.
    const raw = await run('curl', [
      '-s',
      '--raw',
      '--max-time',
      '10',
      '-H',
      'Host: streams',
      `http://127.0.0.1:${client.outboundPort}/trailers`,
    ]).done;
    expect(raw.code).toBe(0);
    // Chunked framing as the client received it: the body chunks, then the trailer section.
    expect(raw.stdout).toMatch(/hello /);
    expect(raw.stdout).toMatch(/world/);
    expect(raw.stdout).toMatch(/\r\n0\r\n(x-checksum: abc123\r\nx-count: 2|x-count: 2\r\nx-checksum: abc123)\r\n\r\n$/i);

    // A chunked request with trailers, written by hand.
    const socket = connect(client.outboundPort, '127.0.0.1');
    onCleanup(() => {
      socket.destroy();
    });
    await once(socket, 'connect');
    socket.write(
      'POST /trailers HTTP/1.1\r\nHost: streams\r\nTransfer-Encoding: chunked\r\nTrailer: x-request-sum\r\nConnection: close\r\n\r\n' +
        '5\r\nabcde\r\n0\r\nx-request-sum: 42\r\n\r\n',
    );
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      answer += d;
    });
    await once(socket, 'end');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(app.requestTrailers).toEqual({ 'x-request-sum': '42' });

    // A 10 MiB upload with curl: the app sees the same sha256.
    const body = randomBytes(10 * 1024 * 1024);
    const file = join(tempDir(), 'upload.bin');
    writeFileSync(file, body);
    const expected = createHash('sha256').update(body).digest('hex');
    const upload = async (header: string) => {
      const args = ['-s', '--max-time', '30', '-H', 'Host: streams', '-H', header, '--data-binary', `@${file}`];
      const result = await run('curl', [...args, `http://127.0.0.1:${client.outboundPort}/upload`]).done;
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^\{/);
      return JSON.parse(result.stdout) as unknown;
    };
    expect(await upload('content-type: application/octet-stream')).toEqual({ bytes: body.length, sha256: expected });
    // And chunked (no Content-Length), as a streaming client sends it.
    expect(await upload('transfer-encoding: chunked')).toEqual({ bytes: body.length, sha256: expected });
    await waitUntil(
      () => app.uploads.length === 2,
      5000,
      () => 'both uploads at the app',
    );
  });
});
