// The HTTP/1.1 upstream pool on real sockets, against node:http servers (and one raw server
// for what node:http would not do): reuse, the connection cap, trailers both ways, the
// upstream's Keep-Alive hint, failures before and during a response, and Upgrade.
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferBody } from '../http/body.ts';
import type { UpstreamController, UpstreamHandler, UpstreamRequest } from '../http/upstream-exchange.ts';
import { plainConnector } from '../tls/client-tls.ts';
import { Http1Pool, type Http1PoolOptions } from './client-pool.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0).reverse()) close();
});

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    (server as Server).closeAllConnections?.();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** A node:http app that counts the connections it saw. */
async function app(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; connections: () => number }> {
  const server = createHttpServer(handler);
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  return { port: await listen(server), connections: () => connections };
}

function poolTo(port: number, options: Partial<Http1PoolOptions> = {}): Http1Pool {
  const pool = new Http1Pool({ connect: plainConnector(`127.0.0.1:${port}`, 1000), keepAliveTimeoutMs: 60_000, ...options });
  closers.push(() => pool.destroy());
  return pool;
}

interface Answer {
  status: number;
  headers: readonly string[];
  body: string;
  trailers: readonly string[];
  error: (Error & { code?: string }) | undefined;
  upgraded?: { socket: Duplex; head: Buffer };
}

function send(pool: Http1Pool, request: Partial<UpstreamRequest> = {}, onStart?: (c: UpstreamController) => void): Promise<Answer> {
  return new Promise((resolve) => {
    const a: Answer = { status: 0, headers: [], body: '', trailers: [], error: undefined };
    const handler: UpstreamHandler = {
      onRequestStart: (c) => onStart?.(c),
      onResponseStart: (_c, status, headers) => {
        a.status = status;
        a.headers = headers;
      },
      onResponseData: (_c, chunk) => {
        a.body += chunk.toString();
      },
      onResponseEnd: (_c, trailers) => {
        a.trailers = trailers;
        resolve(a);
      },
      onResponseError: (_c, error) => {
        a.error = error;
        resolve(a);
      },
      onUpgrade: (status, headers, socket, head) => {
        a.status = status;
        a.headers = headers;
        a.upgraded = { socket, head };
        resolve(a);
      },
    };
    pool.dispatch({ method: 'GET', path: '/', headers: ['host', 'app'], body: null, ...request }, handler);
  });
}

describe('HTTP/1.1 upstream pool', () => {
  it('reuses one keep-alive connection for requests in turn, and opens more only up to its cap', async () => {
    let inFlight = 0;
    let most = 0;
    const up = await app((_req, res) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.end('ok');
      }, 20);
    });
    const pool = poolTo(up.port, { maxConnections: 2 });
    for (let i = 0; i < 3; i++) expect((await send(pool)).body).toBe('ok');
    expect(up.connections()).toBe(1);
    const answers = await Promise.all(Array.from({ length: 6 }, () => send(pool)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(up.connections()).toBe(2);
    expect(most).toBe(2); // the rest waited in the pool
  });

  it('sends its connection headers once per connection, with the first request', async () => {
    const seen: { port: number; source: string | undefined }[] = [];
    const up = await app((req, res) => {
      seen.push({ port: req.socket.remotePort ?? 0, source: req.headers['x-weft-source'] as string | undefined });
      setTimeout(() => res.end('ok'), 10);
    });
    const pool = poolTo(up.port, { maxConnections: 2, connectionHeaders: ['x-weft-source', 'web/default/v1'] });
    await Promise.all([send(pool), send(pool)]);
    await Promise.all([send(pool), send(pool)]);
    expect(seen).toHaveLength(4);
    const ports = [...new Set(seen.map((s) => s.port))];
    expect(ports).toHaveLength(2);
    for (const port of ports) {
      expect(seen.filter((s) => s.port === port).map((s) => s.source)).toEqual(['web/default/v1', undefined]);
    }
  });

  it('sends a chunked body with its trailers and passes the response trailers on', async () => {
    const up = await app((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        res.writeHead(200, { 'transfer-encoding': 'chunked', trailer: 'x-seen' });
        res.write(`${req.headers['transfer-encoding']} ${body}`);
        res.addTrailers({ 'x-seen': String(req.trailers['x-sum']) });
        res.end();
      });
    });
    const a = await send(poolTo(up.port), { method: 'POST', body: new BufferBody(Buffer.from('payload'), ['x-sum', '42']) });
    expect(a.body).toBe('chunked payload');
    expect(a.trailers).toEqual(['x-seen', '42']);
  });

  it('ends a response framed by its Content-Length with its last byte, however the bytes come', async () => {
    // One scripted upstream connection: every answer must end exactly where its framing says,
    // or the next one on the same connection would be misread (or never end).
    const script: ((socket: Socket) => void)[] = [
      (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello');
        setTimeout(() => s.write('world'), 20);
      },
      (s) => s.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n'),
      (s) => s.write('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n'),
      (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'), // the answer to a HEAD
      (s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
      (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz'),
    ];
    let connections = 0;
    const scripted = createTcpServer((socket: Socket) => {
      connections += 1;
      let seen = '';
      let answered = 0;
      socket.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        while (seen.split('\r\n\r\n').length - 1 > answered) (script[answered++] as (socket: Socket) => void)(socket);
      });
    });
    const pool = poolTo(await listen(scripted));
    const bodies: string[] = [];
    for (const method of ['GET', 'GET', 'GET', 'GET', 'HEAD', 'GET', 'GET']) {
      const a = await send(pool, { method });
      expect(a.error).toBeUndefined();
      bodies.push(`${a.status}:${a.body}`);
    }
    expect(bodies).toEqual(['200:', '200:helloworld', '304:', '204:', '200:', '200:abc', '200:xyz']);
    expect(connections).toBe(1);
  });

  it('stops using a connection before the upstream’s Keep-Alive timeout does', async () => {
    const up = await app((_req, res) => {
      res.setHeader('keep-alive', 'timeout=1');
      res.end('ok');
    });
    const pool = poolTo(up.port);
    await send(pool);
    expect(pool.size).toBe(1);
    // timeout=1 leaves the connection usable for 0 s: the next sweep (≤ 1 s) closes it.
    const deadline = Date.now() + 2500;
    while (pool.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pool.size).toBe(0);
    expect((await send(pool)).status).toBe(200);
    expect(up.connections()).toBe(2);
  });

  it('fails a request whose upstream closes before answering, and one that refuses the connection', async () => {
    const rude = createTcpServer((socket: Socket) => {
      socket.once('data', () => socket.destroy());
    });
    const port = await listen(rude);
    const reset = await send(poolTo(port));
    expect(reset.status).toBe(0);
    expect(reset.error?.code).toBe('ECONNRESET');
    rude.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refused = await send(poolTo(port));
    expect(refused.error?.code).toBe('ECONNREFUSED');
  });

  it('cuts the connection when an exchange is aborted in the middle of the response', async () => {
    let upstreamSawClose = false;
    const up = await app((req, res) => {
      req.socket.once('close', () => {
        upstreamSawClose = true;
      });
      res.writeHead(200);
      res.write('partial');
    });
    const pool = poolTo(up.port);
    let controller: UpstreamController | undefined;
    const answer = send(pool, {}, (c) => {
      controller = c;
    });
    const deadline = Date.now() + 2000;
    while (controller === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller?.abort(new Error('client left'));
    expect((await answer).error?.message).toBe('client left');
    while (!upstreamSawClose && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(upstreamSawClose).toBe(true);
    expect(pool.size).toBe(0);
  });

  it('hands a 101 over with its connection and the bytes after it', async () => {
    const server = createHttpServer();
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\nEARLY`);
      socket.on('data', (d) => socket.write(`echo:${d}`));
    });
    const port = await listen(server);
    const a = await send(poolTo(port), {
      headers: ['host', 'app', 'connection', 'upgrade', 'upgrade', 'websocket'],
      upgrade: true,
    });
    expect(a.status).toBe(101);
    const socket = a.upgraded?.socket as Duplex;
    closers.push(() => socket.destroy());
    let text = a.upgraded?.head.toString() ?? '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
    });
    socket.resume();
    socket.write('ping');
    const deadline = Date.now() + 2000;
    while (!text.includes('echo:ping') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(text).toBe('EARLYecho:ping');
  });
});
