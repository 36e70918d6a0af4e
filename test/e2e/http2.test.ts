// HTTP/2 through a sidecar pair: h2load (cleartext, prior knowledge) against the outbound
// port, HTTP/1.1 and HTTP/2 on that same port, an app that speaks only HTTP/2 (protocol:
// http2) reached from both, and the HTTP/2 limits that protect the proxy: the settings it
// announces, streams beyond the concurrency limit refused, idle connections closed with
// GOAWAY, and the proxy serving on after each.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { type ClientHttp2Session, connect, constants, createServer, type Http2Session, type Settings } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { onCleanup, send, service, startControlPlane, startSidecar, waitForMeshSync, waitUntil, yamlDocs } from '../src/harness/index.ts';

/** An app that speaks only HTTP/2 cleartext; /slow answers after 300 ms. */
async function startH2App(): Promise<{ port: number; versions: string[] }> {
  const versions: string[] = [];
  const server = createServer((req, res) => {
    versions.push(req.httpVersion);
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-app-protocol': req.httpVersion });
      res.end(`hello over ${req.httpVersion}\n`);
    };
    if (req.url === '/slow') setTimeout(answer, 300);
    else answer();
  });
  const sessions = new Set<Http2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, versions };
}

function h2Session(port: number): ClientHttp2Session {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  onCleanup(() => {
    session.destroy();
  });
  return session;
}

/** One request on `session`: status and body, or the reset code. */
function h2Get(session: ClientHttp2Session, path: string): Promise<{ status: number; body: string; rstCode: number }> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': path, ':authority': 'h2app' });
    stream.end();
    let status = 0;
    let body = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('error', () => {});
    stream.on('close', () => resolve({ status, body, rstCode: stream.rstCode ?? 0 }));
  });
}

function h2load(args: string[]): Promise<{ code: number; stdout: string } | undefined> {
  return new Promise((resolve) => {
    execFile('h2load', args, { timeout: 60_000 }, (error, stdout) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') resolve(undefined);
      else resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout });
    });
  });
}

describe('HTTP/2 through a sidecar pair', () => {
  it('serves h2load, HTTP/1.1 and HTTP/2 on one port to an HTTP/2-only app, and enforces its HTTP/2 limits', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('client'), service('h2app', { protocol: 'http2' })) });
    const app = await startH2App();
    const limits = ['--h2-max-concurrent-streams', '5', '--h2-max-header-list-size', '4096', '--h2-initial-window-size', '131072'];
    const [a] = await Promise.all([
      startSidecar({
        service: 'client',
        controlPlane: cp.xdsAddress,
        args: ['--access-log', 'off', ...limits, '--h2-idle-timeout-ms', '1500'],
      }),
      startSidecar({ service: 'h2app', controlPlane: cp.xdsAddress, appPort: app.port, args: ['--access-log', 'off'] }),
    ]);
    await waitForMeshSync(cp, 2);
    const port = a.outboundPort;

    // HTTP/1.1 on the outbound port: carried as HTTP/1.1 between the sidecars, then as
    // HTTP/2 to the app, which speaks nothing else.
    const h1 = await send({ port, host: 'h2app', path: '/' });
    expect(h1.status).toBe(200);
    expect(h1.body).toBe('hello over 2.0\n');

    // HTTP/2 with prior knowledge on the same port.
    const session = h2Session(port);
    const [settings] = (await once(session, 'remoteSettings')) as [Settings];
    expect(settings).toMatchObject({ maxConcurrentStreams: 5, maxHeaderListSize: 4096, initialWindowSize: 131072, enablePush: false });
    const h2 = await h2Get(session, '/');
    expect(h2).toMatchObject({ status: 200, body: 'hello over 2.0\n' });

    // h2load: many streams on a few connections; every one answered.
    const load = await h2load(['-n', '2000', '-c', '4', '-m', '4', '-H', ':authority: h2app', `http://127.0.0.1:${port}/`]);
    if (load === undefined) {
      console.log('h2load not found (Debian package nghttp2-client): skipping the h2load part');
    } else {
      expect(load.code, load.stdout).toBe(0);
      expect(load.stdout).toMatch(/requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
      expect(load.stdout).toMatch(/status codes: 2000 2xx/);
    }

    // Streams beyond the concurrency limit are refused (RST_STREAM REFUSED_STREAM). A
    // well-behaved client waits for the limit; this one sends before reading our SETTINGS.
    const eager = h2Session(port);
    const burst = await Promise.all(Array.from({ length: 8 }, () => h2Get(eager, '/slow')));
    expect(burst.filter((r) => r.status === 200).length).toBe(5);
    expect(burst.filter((r) => r.rstCode === constants.NGHTTP2_REFUSED_STREAM).length).toBe(3);

    // An idle connection is closed with GOAWAY (1.5 s here; never while a stream is open).
    const idle = h2Session(port);
    expect((await h2Get(idle, '/')).status).toBe(200);
    await once(idle, 'goaway');
    await waitUntil(async () => idle.closed || idle.destroyed, 5000);

    // The proxy serves on, both protocols.
    expect((await h2Get(h2Session(port), '/')).status).toBe(200);
    expect((await send({ port, host: 'h2app', path: '/' })).status).toBe(200);
    expect(app.versions.every((v) => v === '2.0')).toBe(true);
  });
});
