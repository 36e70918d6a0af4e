// The outbound listener's handling of redirected connections, on real sockets. Which
// connection the kernel redirected (and from where) is what `lookup` answers here; the
// kernel's own answer needs iptables in a network namespace: test/e2e/interception.test.ts.
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createH2Server, connect as h2connect } from 'node:http2';
import { type AddressInfo, connect, createServer as createTcpServer } from 'node:net';
import type { OriginalDestination } from '@weft/original-dst';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterManager } from '../cluster/cluster-manager.ts';
import type { RequestOutcome } from '../http/request-outcome.ts';
import { UpstreamPools } from '../upstream/upstream-pools.ts';
import { AppliedConfig } from '../xds/applied-config.ts';
import { type DestinationLookup, Interception } from './interception.ts';
import { createOutboundServer } from './outbound-server.ts';

const silent = pino({ level: 'silent' });
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function listening<T extends Server | ReturnType<typeof createTcpServer>>(server: T): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        (server as Server).closeAllConnections?.();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

interface Sidecar {
  readonly port: number;
  readonly outcomes: RequestOutcome[];
  readonly asked: string[];
  readonly interception: Interception;
}

/** An outbound listener with no routes; `lookup` plays the kernel. */
async function sidecar(destinations: ConstructorParameters<typeof Interception>[0]['destinations'], log = silent): Promise<Sidecar> {
  const pools = new UpstreamPools({ connectTimeoutMs: 1000, keepAliveTimeoutMs: 60_000 });
  const config = new AppliedConfig(new ClusterManager(pools, silent), { trustDomain: 'cluster.local', onTrust: () => {} });
  const interception = new Interception({ pools, log, detectTimeoutMs: 100, ...(destinations ? { destinations } : {}) });
  const outcomes: RequestOutcome[] = [];
  const asked: string[] = [];
  const server = createOutboundServer({
    config,
    log: silent,
    interception,
    onOutcome: (o) => outcomes.push(o),
    // The control plane knows none of these hosts: it answers at once, with nothing.
    onDemand: (host) => {
      if (asked.includes(host)) return undefined;
      asked.push(host);
      return Promise.resolve();
    },
  });
  const port = await listening(server);
  closers.push(async () => {
    interception.close();
    await pools.close();
  });
  return { port, outcomes, asked, interception };
}

/** Every connection "was going to" `destination`. */
const redirectedTo = (port: number, address = '127.0.0.1'): { lookup: DestinationLookup } => ({
  lookup: () => ({ address, port, family: 4 }) satisfies OriginalDestination,
});

/** One raw HTTP/1.1 exchange (Connection: close); resolves with the whole response text once
 * the server closes. The client does not half-close: node:http drops a request whose client
 * has (httpAllowHalfOpen is off), as curl and browsers never do. */
async function exchange(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.write(request);
  let text = '';
  socket.setEncoding('latin1').on('data', (d: string) => {
    text += d;
  });
  await once(socket, 'close');
  return text;
}

async function outsideApp(): Promise<{ port: number; seen: { url: string; headers: IncomingHttpHeaders }[] }> {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createHttpServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/plain', 'x-outside': 'yes' }).end('outside');
  });
  return { port: await listening(server), seen };
}

describe('intercepted connections on the outbound listener', () => {
  it('passes HTTP for a host outside the mesh on to where it was going, as the app sent it', async () => {
    const app = await outsideApp();
    const proxy = await sidecar(redirectedTo(app.port));
    const response = await exchange(
      proxy.port,
      'GET /search?q=1 HTTP/1.1\r\nHost: example.com\r\nX-Custom: kept\r\nConnection: close\r\n\r\n',
    );
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response).toContain('x-outside: yes');
    expect(response).not.toContain('x-weft-');
    expect(app.seen).toHaveLength(1);
    const { url, headers } = app.seen[0] as (typeof app.seen)[number];
    expect(url).toBe('/search?q=1');
    expect(headers['host']).toBe('example.com');
    expect(headers['x-custom']).toBe('kept');
    for (const added of ['x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'x-weft-peer-identity']) {
      expect(headers[added], added).toBeUndefined();
    }
    // The name was asked for first, then the address it was sent to; neither is in the mesh.
    expect(proxy.asked).toEqual(['example.com', '127.0.0.1']);
    expect(proxy.outcomes.map((o) => [o.cluster, o.status, o.flags, o.upstreamAddress])).toEqual([
      ['passthrough', 200, '', `127.0.0.1:${app.port}`],
    ]);
  });

  it('takes HTTP/2 with prior knowledge to the HTTP/2 handling, and passes it on over HTTP/2', async () => {
    const versions: string[] = [];
    const h2app = createH2Server((req, res) => {
      versions.push(`${req.httpVersion} ${req.headers[':authority']} ${req.url}`);
      res.writeHead(200, { 'x-outside': 'h2' }).end('outside over h2');
    });
    const sessions: { destroy(): void }[] = [];
    h2app.on('session', (s) => sessions.push(s));
    closers.push(() => {
      for (const s of sessions) s.destroy();
    });
    const proxy = await sidecar(redirectedTo(await listening(h2app)));
    const client = h2connect(`http://127.0.0.1:${proxy.port}`);
    closers.push(() => {
      client.destroy();
    });
    const stream = client.request({ ':path': '/grpc-ish', ':authority': 'example.com' });
    stream.end();
    const [headers] = (await once(stream, 'response')) as [Record<string, string>];
    let body = '';
    stream.setEncoding('utf8').on('data', (d: string) => {
      body += d;
    });
    await once(stream, 'end');
    expect(headers[':status']).toBe(200);
    expect(headers['x-outside']).toBe('h2');
    expect(body).toBe('outside over h2');
    expect(versions).toEqual(['2.0 example.com /grpc-ish']);
    expect(proxy.outcomes.map((o) => [o.cluster, o.status])).toEqual([['passthrough', 200]]);
  });

  it('routes a request to an IP by the connection’s destination, not by what Host says', async () => {
    const app = await outsideApp();
    const proxy = await sidecar(redirectedTo(app.port));
    const response = await exchange(proxy.port, 'GET / HTTP/1.1\r\nHost: 10.200.0.9:8080\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(proxy.asked).toEqual(['127.0.0.1']);
    expect(app.seen[0]?.headers['host']).toBe('10.200.0.9:8080');
  });

  it('pipes bytes that are not HTTP unchanged both ways, half-close included', async () => {
    const server = createTcpServer({ allowHalfOpen: true }, (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      // Answers once the client has finished sending: what it got, reversed.
      socket.on('end', () => socket.end(Buffer.concat(chunks).reverse()));
    });
    const port = await listening(server);
    const proxy = await sidecar(redirectedTo(port));
    const tlsHello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05]);
    const client = connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
    client.end(tlsHello);
    const received: Buffer[] = [];
    client.on('data', (d: Buffer) => received.push(d));
    await once(client, 'end');
    expect(Buffer.concat(received)).toEqual(Buffer.from(tlsHello).reverse());
    expect(proxy.outcomes).toEqual([]);
  });

  it('lets a server that speaks first (MySQL, SMTP) be heard once the client stays silent', async () => {
    const server = createTcpServer((socket) => {
      socket.write('220 smtp.example ready\r\n');
      socket.on('data', (d: Buffer) => {
        if (d.toString().startsWith('QUIT')) socket.end('221 bye\r\n');
      });
    });
    const port = await listening(server);
    const proxy = await sidecar(redirectedTo(port));
    const client = connect(proxy.port, '127.0.0.1');
    client.setEncoding('latin1');
    let text = '';
    client.on('data', (d: string) => {
      text += d;
      if (text === '220 smtp.example ready\r\n') client.write('QUIT\r\n');
    });
    await once(client, 'close');
    expect(text).toBe('220 smtp.example ready\r\n221 bye\r\n');
  });

  it('closes the client when the destination refuses the connection', async () => {
    const closed = createTcpServer();
    const port = await listening(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const proxy = await sidecar(redirectedTo(port));
    const client = connect(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    client.write(Buffer.from([0x00, 0x00, 0x00, 0x08]));
    await once(client, 'close');
  });

  it('serves connections made to the listener on purpose as before: unknown hosts get 404 NR', async () => {
    const proxy = await sidecar({ lookup: () => undefined });
    const response = await exchange(proxy.port, 'GET / HTTP/1.1\r\nHost: nowhere.example\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 404 /);
    expect(response).toContain('x-weft-response-flags: NR');
    expect(proxy.asked).toEqual(['nowhere.example']);
  });

  it('says once why it cannot see original destinations, and serves HTTP as before', async () => {
    const lines: { level: number; msg: string; reason?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const proxy = await sidecar({ unavailable: 'original_dst.node was not built' }, log);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        msg: expect.stringContaining('original destination unavailable'),
        reason: 'original_dst.node was not built',
      }),
    ]);
    const response = await exchange(proxy.port, 'GET / HTTP/1.1\r\nHost: nowhere.example\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 404 /);
  });
});
