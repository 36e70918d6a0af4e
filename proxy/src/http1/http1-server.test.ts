// The HTTP/1.1 server codec on real sockets: raw clients send exactly the bytes under test
// (pipelining, HTTP/1.0, Expect, HEAD, broken framing, upgrades) and read what comes back.
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { BodySink } from '../http/body.ts';
import { Http1Server, type Http1ServerOptions } from './http1-server.ts';
import { DEFAULT_HTTP1_LIMITS } from './limits.ts';
import { LINGER_MS } from './server-connection.ts';

const log = pino({ level: 'silent' });
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0).reverse()) close();
});

async function serve(options: Omit<Http1ServerOptions, 'log'>): Promise<{ port: number; http1: Http1Server }> {
  const http1 = new Http1Server({ log, ...options });
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => http1.accept(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    http1.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, http1 };
}

/** A raw client: what it receives, as text. */
async function client(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  closers.push(() => socket.destroy());
  let text = '';
  socket.setEncoding('latin1').on('data', (d: string) => {
    text += d;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => text, closed };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const ok = (body: string) => ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(body))];

describe('HTTP/1.1 server codec', () => {
  it('answers pipelined requests in order, starting each only after the one before is answered', async () => {
    const started: string[] = [];
    const pending: (() => void)[] = [];
    const { port } = await serve({
      onRequest: (req, res) => {
        started.push(req.url);
        pending.push(() => {
          res.head(200, ok(req.url));
          res.finish(req.url);
        });
      },
    });
    const c = await client(port);
    c.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => started.length === 1, 'the first request');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(started).toEqual(['/a']); // the others wait
    pending.shift()?.();
    await until(() => started.length === 2, 'the second request');
    pending.shift()?.();
    await until(() => started.length === 3, 'the third request');
    pending.shift()?.();
    await until(() => c.received().split('HTTP/1.1 200').length === 4, 'three answers');
    const bodies = c.received().match(/\r\n\r\n\/[abc]/g);
    expect(bodies).toEqual(['\r\n\r\n/a', '\r\n\r\n/b', '\r\n\r\n/c']);
  });

  it('frames by the client: chunked for HTTP/1.1, close-delimited for HTTP/1.0, none for HEAD', async () => {
    const { port } = await serve({
      onRequest: (_req, res) => {
        res.head(200, ['x-upstream', 'yes']);
        res.data(Buffer.from('hello '));
        res.finish(Buffer.from('world'), ['x-checksum', 'abc']);
      },
    });
    const h11 = await client(port);
    h11.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => h11.received().endsWith('\r\n\r\n') && h11.received().includes('0\r\n'), 'a chunked answer');
    expect(h11.received()).toContain('transfer-encoding: chunked\r\n');
    expect(h11.received()).toContain('6\r\nhello \r\n5\r\nworld\r\n0\r\nx-checksum: abc\r\n\r\n');
    const h10 = await client(port);
    h10.socket.write('GET / HTTP/1.0\r\n\r\n');
    await h10.closed;
    expect(h10.received()).toMatch(/^HTTP\/1\.1 200 OK\r\nx-upstream: yes\r\nconnection: close\r\n\r\nhello world$/);
    const head = await client(port);
    head.socket.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => head.received().split('HTTP/1.1 200').length === 3, 'both answers');
    const [headAnswer] = head.received().split('HTTP/1.1 200').slice(1);
    expect(headAnswer).not.toContain('hello'); // no body after a HEAD, and the next answer intact
  });

  it('ends a request body framed by its Content-Length with its last byte, across reads, then reads the next request', async () => {
    const seen: string[] = [];
    const { port } = await serve({
      onRequest: (req, res) => {
        let text = '';
        const answer = () => {
          seen.push(`${req.method} ${req.url} ${text}`);
          res.head(200, ok('ok'));
          res.finish('ok');
        };
        if (req.body === undefined) answer();
        else
          req.body.read({
            onBodyData: (chunk) => {
              text += chunk.toString();
              return true;
            },
            onBodyEnd: answer,
            onBodyError: () => {},
          });
      },
    });
    const c = await client(port);
    c.socket.write('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual([]); // half the body: not complete
    c.socket.write('world');
    await until(() => seen.length === 1, 'the first request');
    c.socket.write('POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => c.received().split('HTTP/1.1 200').length === 4, 'three answers');
    expect(seen).toEqual(['POST /a helloworld', 'POST /b ', 'GET /c ']);
  });

  it('answers Expect: 100-continue itself and refuses other expectations with 417', async () => {
    const bodies: string[] = [];
    const { port } = await serve({
      onRequest: (req, res) => {
        let text = '';
        req.body?.read({
          onBodyData: (chunk) => {
            text += chunk.toString();
            return true;
          },
          onBodyEnd: () => {
            bodies.push(text);
            res.head(200, ok('ok'));
            res.finish('ok');
          },
          onBodyError: () => {},
        });
      },
    });
    const c = await client(port);
    c.socket.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await until(() => c.received().startsWith('HTTP/1.1 100 Continue\r\n\r\n'), '100 Continue');
    c.socket.write('hello');
    await until(() => c.received().includes('200 OK'), 'the answer');
    expect(bodies).toEqual(['hello']);
    const other = await client(port);
    other.socket.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: tea\r\n\r\nhello');
    await other.closed;
    expect(other.received()).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
  });

  it('stops reading a client whose body nobody takes fast enough, and reads on after', async () => {
    let sink: BodySink | undefined;
    let received = 0;
    let resume: (() => void) | undefined;
    const { port } = await serve({
      onRequest: (req, res) => {
        const body = req.body;
        if (!body) return;
        sink = {
          onBodyData: (chunk) => {
            received += chunk.length;
            return false; // full: pause
          },
          onBodyEnd: () => {
            res.head(200, ok('done'));
            res.finish('done');
          },
          onBodyError: () => {},
        };
        resume = () => body.resume();
        body.read(sink);
      },
    });
    const c = await client(port);
    const total = 8 * 1024 * 1024;
    c.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let written = 0;
    // Writes until the kernel buffers are full: the server is not reading.
    while (written < total && c.socket.write(chunk)) written += chunk.length;
    written += chunk.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toBeLessThan(total);
    expect(c.socket.writableLength).toBeGreaterThan(0);
    // Let it flow: every pause is answered by a resume.
    const pump = setInterval(() => resume?.(), 1);
    closers.push(() => clearInterval(pump));
    c.socket.on('drain', function more() {
      while (written < total) {
        const ok = c.socket.write(chunk);
        written += chunk.length;
        if (!ok) return;
      }
    });
    c.socket.emit('drain');
    await until(() => c.received().includes('200 OK'), 'the whole body');
    expect(received).toBe(total);
  });

  it('refuses broken framing with 400 and tells the request in flight its client is gone', async () => {
    let closedOnHandler = 0;
    const { port } = await serve({
      onRequest: (req, res) => {
        res.onClose(() => {
          closedOnHandler += 1;
        });
        req.body?.read({ onBodyData: () => true, onBodyEnd: () => {}, onBodyError: () => {} });
      },
    });
    const c = await client(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n');
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(closedOnHandler).toBe(1);
  });

  it('closes only the connection whose handler throws, and keeps serving the others', async () => {
    const { port } = await serve({
      onRequest: (req, res) => {
        if (req.body === undefined) {
          res.head(200, ok('fine'));
          res.finish('fine');
          return;
        }
        req.body.read({
          onBodyData: () => {
            throw new Error('a bug in a body reader');
          },
          onBodyEnd: () => {},
          onBodyError: () => {},
        });
      },
    });
    const buggy = await client(port);
    buggy.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
    await buggy.closed;
    const fine = await client(port);
    fine.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => fine.received().endsWith('fine'), 'an answer on another connection');
  });

  it('hands an Upgrade over with the bytes the client sent after its head', async () => {
    let handed: { url: string; head: string } | undefined;
    const { port } = await serve({
      onRequest: () => {
        throw new Error('not an upgrade');
      },
      onUpgrade: (req, socket, head) => {
        handed = { url: req.url, head: head.toString() };
        socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\nhi');
      },
    });
    const c = await client(port);
    c.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nFIRST');
    await c.closed;
    expect(handed).toEqual({ url: '/ws', head: 'FIRST' });
    expect(c.received()).toBe('HTTP/1.1 101 Switching Protocols\r\n\r\nhi');
  });

  it('closes idle connections at shutdown and lets one in flight finish, saying connection: close', async () => {
    let answer: (() => void) | undefined;
    const { port, http1 } = await serve({
      onRequest: (_req, res) => {
        answer = () => {
          res.head(200, ok('late'));
          res.finish('late');
        };
      },
    });
    const idle = await client(port);
    idle.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => answer !== undefined, 'the request');
    answer?.();
    answer = undefined;
    await until(() => idle.received().includes('late'), 'the answer');
    const busy = await client(port);
    busy.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => answer !== undefined, 'the second request');
    http1.closeIdleConnections();
    await idle.closed;
    (answer as (() => void) | undefined)?.();
    await busy.closed;
    expect(busy.received()).toContain('connection: close\r\n');
    expect(busy.received().endsWith('late')).toBe(true);
  });

  it('answers 408 to a client that never finishes its head, and closes one idle too long', async () => {
    const { port } = await serve({
      limits: { ...DEFAULT_HTTP1_LIMITS, headersTimeoutMs: 200, idleTimeoutMs: 300 },
      onRequest: (_req, res) => {
        res.head(200, ok('ok'));
        res.finish('ok');
      },
    });
    const slow = await client(port);
    slow.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    const quiet = await client(port);
    quiet.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const started = Date.now();
    await quiet.closed;
    expect(quiet.received()).toContain('200 OK');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('delivers an answer sent before the request body was read whole, then closes', async () => {
    // The handler answers a large upload at once without reading it (an app's early 413, a
    // download that ignores its request body). The connection cannot be reused (the rest of
    // the body would be read as the next request), so it closes; closing with bytes unread
    // makes the kernel reset the connection, which throws away what it has not sent yet.
    const answer = Buffer.alloc(8 * 1024 * 1024, 'a');
    const { port } = await serve({
      onRequest: (_req, res) => {
        res.head(200, ['content-length', String(answer.length)]);
        res.finish(answer);
      },
    });
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    closers.push(() => socket.destroy());
    let received = 0;
    let failure = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on('error', (error) => {
      failure = error.message;
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n');
    // Bounded: 64 MB at most, and only while the socket takes it.
    const chunk = Buffer.alloc(256 * 1024, 'b');
    for (let i = 0; i < 256 && socket.write(chunk); i++);
    await closed;
    expect(failure).toBe('');
    const head = 'HTTP/1.1 200 OK\r\n';
    expect(received).toBeGreaterThan(answer.length + head.length);
  });

  it('stops reading a client that keeps its side open after such an answer, after LINGER_MS', async () => {
    const { port } = await serve({
      onRequest: (_req, res) => {
        res.head(413, ['content-length', '4']);
        res.finish('nope');
      },
    });
    // A client that never ends its side, and goes on sending now and then.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    closers.push(() => socket.destroy());
    let text = '';
    socket.setEncoding('latin1').on('data', (d: string) => {
      text += d;
    });
    const ended = new Promise<number>((resolve) => socket.once('end', () => resolve(Date.now())));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    socket.on('error', () => {});
    socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nfirst bytes');
    const endedAt = await ended;
    expect(text).toContain('HTTP/1.1 413');
    const trickle = setInterval(() => socket.write('more'), 100);
    const closedAt = await closed;
    clearInterval(trickle);
    expect(closedAt - endedAt).toBeGreaterThanOrEqual(LINGER_MS - 100);
    expect(closedAt - endedAt).toBeLessThan(LINGER_MS + 1500);
  });
});
