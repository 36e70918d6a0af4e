// The HTTP/2 listener side over a real connection: what node's compatibility layer used to do
// for every request (CONNECT refused, Expect handled) now done by h2-server.ts, and the
// request and response as the request path drives them (h2-request.ts, h2-response.ts):
// the body with its trailers, trailers-only answers in one HEADERS frame, trailers after a
// streamed body, and the upstream's Date passed through rather than one of our own.
import { once } from 'node:events';
import { type ClientHttp2Session, connect, constants, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import { closeH2Connections, createH2Server, DEFAULT_H2_LIMITS } from './h2-server.ts';

type Handler = (req: ProxyRequest, res: ProxyResponse) => void;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(handler: Handler): Promise<ClientHttp2Session> {
  const server = createH2Server(DEFAULT_H2_LIMITS, pino({ level: 'silent' }), handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  cleanups.push(async () => {
    client.destroy();
    closeH2Connections(server, true);
    server.close();
    await once(server, 'close');
  });
  return client;
}

interface Answer {
  headers: IncomingHttpHeaders;
  /** The response's HEADERS frame ended the stream (trailers-only). */
  endedWithHeaders: boolean;
  body: string;
  trailers: IncomingHttpHeaders | undefined;
  informational: number[];
}

async function ask(
  client: ClientHttp2Session,
  headers: Record<string, string>,
  body?: { data: string; trailers?: Record<string, string> },
): Promise<Answer> {
  const stream = client.request(headers, { endStream: body === undefined, waitForTrailers: body?.trailers !== undefined });
  const answer: Answer = { headers: {}, endedWithHeaders: false, body: '', trailers: undefined, informational: [] };
  stream.on('headers', (h: IncomingHttpHeaders) => answer.informational.push(Number(h[':status'])));
  stream.on('response', (h: IncomingHttpHeaders, flags: number) => {
    answer.headers = h;
    answer.endedWithHeaders = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
  });
  stream.on('trailers', (t: IncomingHttpHeaders) => {
    answer.trailers = t;
  });
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    answer.body += chunk;
  });
  if (body !== undefined) {
    const trailers = body.trailers;
    if (trailers !== undefined) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end(body.data);
  }
  await once(stream, 'close');
  return answer;
}

describe('HTTP/2 listener', () => {
  it('refuses CONNECT (405) and unknown expectations (417) itself, and answers 100-continue at once', async () => {
    const seen: string[] = [];
    const client = await serve((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.head(204, []);
      res.finish();
    });
    expect((await ask(client, { ':method': 'CONNECT', ':authority': 'db:5432' })).headers[':status']).toBe(405);
    const refused = await ask(client, { ':method': 'POST', ':path': '/up', expect: 'something-else' }, { data: 'x' });
    expect(refused.headers[':status']).toBe(417);
    const continued = await ask(client, { ':method': 'POST', ':path': '/up', expect: '100-continue' }, { data: 'x' });
    expect([continued.informational, continued.headers[':status']]).toEqual([[100], 204]);
    expect(seen).toEqual(['POST /up']);
  });

  it('hands the request body over with its trailers, and sends trailers after a streamed body', async () => {
    let received = '';
    let trailers: readonly string[] = [];
    const client = await serve((req, res) => {
      req.body?.read({
        onBodyData: (chunk) => {
          received += chunk.toString();
          return true;
        },
        onBodyEnd: () => {
          trailers = req.body?.trailers ?? [];
          res.head(200, ['content-type', 'application/grpc', 'date', 'Tue, 01 Dec 2026 00:00:00 GMT']);
          res.data(Buffer.from('streamed'));
          setImmediate(() => res.finish(undefined, ['grpc-status', '0', 'Grpc-Message', 'fine']));
        },
        onBodyError: (error) => {
          throw error;
        },
      });
    });
    const answer = await ask(
      client,
      { ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc' },
      { data: 'hello', trailers: { 'x-checksum': 'abc' } },
    );
    expect([received, trailers]).toEqual(['hello', ['x-checksum', 'abc']]);
    expect([answer.headers[':status'], answer.headers.date, answer.body]).toEqual([200, 'Tue, 01 Dec 2026 00:00:00 GMT', 'streamed']);
    expect([answer.trailers?.['grpc-status'], answer.trailers?.['grpc-message']]).toEqual(['0', 'fine']);
  });

  it('sends a head that ends the response as one HEADERS frame (gRPC trailers-only), and no Date of its own', async () => {
    const client = await serve((_req, res) => {
      res.head(200, ['content-type', 'application/grpc', 'grpc-status', '14', 'set-cookie', 'a=1', 'Set-Cookie', 'b=2']);
      res.finish();
    });
    const answer = await ask(client, { ':method': 'POST', ':path': '/pkg.Svc/Call' }, { data: '' });
    expect(answer.endedWithHeaders).toBe(true);
    expect([answer.headers['grpc-status'], answer.headers['set-cookie'], answer.headers.date]).toEqual(['14', ['a=1', 'b=2'], undefined]);
    expect(answer.trailers).toBeUndefined();
  });

  it('ends a body without trailers and without a trailers frame, and resets a response cut short', async () => {
    const client = await serve((req, res) => {
      if (req.url === '/cut') {
        res.head(200, []);
        res.data(Buffer.from('part'));
        setImmediate(() => res.reset());
        return;
      }
      res.head(200, ['content-type', 'text/plain']);
      res.finish('whole');
    });
    const whole = await ask(client, { ':method': 'GET', ':path': '/' });
    expect([whole.headers[':status'], whole.body, whole.trailers]).toEqual([200, 'whole', undefined]);
    const head = await ask(client, { ':method': 'HEAD', ':path': '/' });
    expect([head.headers[':status'], head.headers['content-type'], head.body]).toEqual([200, 'text/plain', '']);
    const cut = client.request({ ':method': 'GET', ':path': '/cut' }, { endStream: true });
    const failed = new Promise<Error>((resolve) => cut.once('error', resolve));
    cut.resume();
    await new Promise((resolve) => cut.once('close', resolve));
    expect((await failed).message).toMatch(/INTERNAL_ERROR/);
    expect(cut.rstCode).toBe(constants.NGHTTP2_INTERNAL_ERROR);
  });
});
