// HTTP/2 sessions to one upstream on real sockets: multiplexing, replacing a session that
// got GOAWAY, connect failures before anything was sent, and cancellation as RST_STREAM.
import { once } from 'node:events';
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_H2_LIMITS } from '../http/h2-server.ts';
import type { UpstreamController } from '../http/upstream-exchange.ts';
import { H2Sessions } from './h2-sessions.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0).reverse()) close();
});

async function upstream(
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void,
): Promise<{ port: number; server: Http2Server; sessions: ServerHttp2Session[] }> {
  const server = createServer();
  const sessions: ServerHttp2Session[] = [];
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    onStream(stream, headers);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, server, sessions };
}

function sessionsTo(port: number, connectionHeaders?: readonly string[]): H2Sessions {
  const sessions = new H2Sessions({
    address: `127.0.0.1:${port}`,
    tls: undefined,
    connectTimeoutMs: 1000,
    limits: DEFAULT_H2_LIMITS,
    ...(connectionHeaders ? { connectionHeaders } : {}),
  });
  closers.push(() => sessions.close());
  return sessions;
}

interface Result {
  started: boolean;
  status: number;
  body: string;
  trailers: readonly string[] | undefined;
  error: (Error & { code?: string }) | undefined;
  controller: UpstreamController | undefined;
}

function request(sessions: H2Sessions, path = '/', onStart?: (c: UpstreamController) => void): Promise<Result> {
  return new Promise((resolve) => {
    const r: Result = { started: false, status: 0, body: '', trailers: undefined, error: undefined, controller: undefined };
    sessions.dispatch(
      { path, method: 'GET', headers: ['host', 'up'], body: null },
      {
        onRequestStart(controller) {
          r.started = true;
          r.controller = controller;
          onStart?.(controller);
        },
        onResponseStart(_c, status) {
          r.status = status;
        },
        onResponseData(_c, chunk) {
          r.body += chunk.toString();
        },
        onResponseEnd(_c, trailers) {
          r.trailers = trailers;
          resolve(r);
        },
        onResponseError(_c, error) {
          r.error = error as Result['error'];
          resolve(r);
        },
      },
    );
  });
}

describe('HTTP/2 sessions to an upstream', () => {
  it('multiplexes concurrent requests over one session, trailers included', async () => {
    const up = await upstream((stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(`${stream.sentHeaders[':status']} ${stream.session?.socket.remotePort}`);
    });
    const sessions = sessionsTo(up.port);
    const results = await Promise.all(Array.from({ length: 20 }, () => request(sessions)));
    expect(results.every((r) => r.status === 200 && r.trailers?.join(' ') === 'grpc-status 0')).toBe(true);
    expect(new Set(results.map((r) => r.body)).size).toBe(1);
    expect(up.sessions).toHaveLength(1);
  });

  it("sends its connection headers once per session, on the session's first stream", async () => {
    const sources: (string | undefined)[] = [];
    const up = await upstream((stream, headers) => {
      sources.push(headers['x-weft-source'] as string | undefined);
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    const sessions = sessionsTo(up.port, ['x-weft-source', 'web/default/v1']);
    const results = await Promise.all(Array.from({ length: 5 }, () => request(sessions)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(up.sessions).toHaveLength(1);
    expect(sources).toEqual(['web/default/v1', undefined, undefined, undefined, undefined]);
  });

  it('opens a new session after GOAWAY, while the old one finishes its streams', async () => {
    const up = await upstream((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    const sessions = sessionsTo(up.port);
    expect((await request(sessions)).status).toBe(200);
    (up.sessions[0] as ServerHttp2Session).goaway(constants.NGHTTP2_NO_ERROR);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await request(sessions);
    expect(after.status).toBe(200);
    expect(up.sessions).toHaveLength(2);
  });

  it('fails a request whose connection is refused without starting it', async () => {
    const up = await upstream(() => {});
    const port = up.port;
    await new Promise<void>((resolve) => up.server.close(() => resolve()));
    const result = await request(sessionsTo(port));
    expect(result.started).toBe(false);
    expect(result.error?.code).toBe('ECONNREFUSED');
  });

  it('cancels with RST_STREAM CANCEL, and reports a reset by the upstream as an error', async () => {
    const codes: number[] = [];
    const up = await upstream((stream) => {
      stream.on('close', () => codes.push(stream.rstCode ?? -1));
      if (stream.sentHeaders === undefined) stream.respond({ ':status': 200 });
      stream.write('partial');
      if ((stream as unknown as { id: number }).id > 1) setTimeout(() => stream.destroy(new Error('app died')), 20);
    });
    const sessions = sessionsTo(up.port);
    const cancelled = request(sessions, '/', (controller) => setTimeout(() => controller.abort(new Error('client left')), 50));
    expect((await cancelled).error?.message).toBe('client left');
    const reset = await request(sessions);
    expect(reset.status).toBe(200);
    expect(reset.error?.code).toBe('ERR_HTTP2_STREAM_RESET_2');
    expect(codes[0]).toBe(constants.NGHTTP2_CANCEL);
  });
});
