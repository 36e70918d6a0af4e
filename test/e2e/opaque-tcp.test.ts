// Opaque TCP through a sidecar pair over strict mTLS: a TCP echo reached through the local
// port the config declares for a tcp service, through a `--upstream` port, and through a
// CONNECT tunnel on the outbound listener; half-close (FIN) is carried both ways, an app
// that closes closes the client, authorization by peer identity applies, and telemetry
// counts the connections and bytes.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
  weft,
  yamlDocs,
} from '../src/harness/index.ts';

/** A TCP echo app: echoes every byte; on the client's FIN it writes `bye <n>` (bytes seen)
 * and ends its side too; `quit` makes it die (reset). */
async function startEchoApp() {
  const connections: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    connections.push(socket);
    let seen = 0;
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (chunk.toString() === 'quit') {
        socket.resetAndDestroy(); // dies: RST, not a half-close
        return;
      }
      socket.write(chunk);
    });
    socket.on('end', () => socket.end(`bye ${seen}`));
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connections };
}

/** A port nothing listens on right now (the kernel's choice). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function dial(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {}); // a reset from the proxy is an outcome the tests look at, via 'close'
  onCleanup(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  return socket;
}

/** Reads until `text` has arrived (bounded). */
async function readUntil(received: { text: string }, text: string): Promise<void> {
  await waitUntil(
    () => received.text.includes(text),
    5000,
    () => `"${text}" on the socket (got "${received.text.slice(-200)}")`,
  );
}

/** `promise`, or an error naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function collect(socket: Socket, label: string): { text: string; ended: Promise<unknown>; closed: Promise<unknown> } {
  const received = {
    text: '',
    // Not events.once: it rejects on 'error', and a reset is an ending these tests expect.
    ended: within(new Promise((resolve) => socket.once('end', resolve)), 5000, `${label} to end (FIN)`),
    closed: within(new Promise((resolve) => socket.once('close', resolve)), 5000, `${label} to close`),
  };
  received.ended.catch(() => {});
  received.closed.catch(() => {});
  socket.setEncoding('utf8').on('data', (d: string) => {
    received.text += d;
  });
  return received;
}

/** Echo, then half-close from the client: the app sees the FIN and still answers. */
async function echoWithHalfClose(socket: Socket, label: string): Promise<void> {
  const received = collect(socket, label);
  socket.write('ping');
  await readUntil(received, 'ping');
  const big = 'x'.repeat(200_000);
  socket.write(big);
  await readUntil(received, `ping${big}`);
  socket.end(); // FIN: our side is done, the app's is not
  await received.ended;
  expect(received.text).toBe(`ping${big}bye ${4 + big.length}`);
  await received.closed;
}

describe('opaque TCP through a sidecar pair', () => {
  it('reaches a tcp service through its declared port, a --upstream port and CONNECT, with half-close', async () => {
    const dbPort = await freePort();
    const cp = await startControlPlane({
      config: yamlDocs(service('client', { calls: ['db', 'web'] }), service('db', { protocol: 'tcp', port: dbPort }), service('web')),
    });
    const echo = await startEchoApp();
    const [client, flagged] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress, args: ['--upstream', 'db=127.0.0.1:0'] }),
      startSidecar({ service: 'db', controlPlane: cp.xdsAddress, appPort: echo.port }),
    ]);
    await waitForMeshSync(cp, 3);

    // The declared port (the Service's port, opened by the client's sidecar from its config).
    await echoWithHalfClose(await dial(dbPort), 'declared port');

    // A --upstream port: the flag wins over the config for that service.
    const flagPort = flagged.tcpPorts['--upstream db.default'];
    expect(flagPort).toBeGreaterThan(0);
    await echoWithHalfClose(await dial(flagPort as number), '--upstream port');

    // CONNECT on the outbound listener, naming the service.
    const tunnel = await dial(client.outboundPort);
    const answer = collect(tunnel, 'CONNECT answer');
    tunnel.write('CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n');
    await readUntil(answer, '\r\n\r\n');
    expect(answer.text).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
    tunnel.removeAllListeners('data');
    await echoWithHalfClose(tunnel, 'CONNECT tunnel');

    // The app dies: the client's connection is closed too.
    const quitter = await dial(dbPort);
    const quitting = collect(quitter, 'app dies');
    quitter.write('hello');
    await readUntil(quitting, 'hello');
    quitter.write('quit');
    await quitting.closed;

    // The client dies: the app's connection goes too.
    const before = echo.connections.length;
    const dying = await dial(dbPort);
    const dyingIn = collect(dying, 'client dies');
    dying.write('still here');
    await readUntil(dyingIn, 'still here');
    const appSide = echo.connections[before] as Socket;
    dying.resetAndDestroy();
    await waitUntil(
      () => appSide.destroyed,
      5000,
      () => 'the app side to close after a client reset',
    );

    // CONNECT to something outside the mesh is refused.
    const outside = await dial(client.outboundPort);
    const refused = collect(outside, 'CONNECT outside');
    outside.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    await refused.ended;
    expect(refused.text).toMatch(/^HTTP\/1\.1 404 /);

    // Live: the client stops calling db, and its sidecar closes the port (no restart).
    const file = join(tempDir(), 'client.yaml');
    writeFileSync(file, service('client', { calls: ['web'] }));
    const applied = await weft(['apply', '-f', file, '--wait', '--server', cp.adminUrl]);
    expect(applied.code).toBe(0);
    await waitUntil(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = connect(dbPort, '127.0.0.1');
          probe.once('connect', () => {
            probe.destroy();
            resolve(false);
          });
          probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
        }),
      5000,
      () => `port ${dbPort} to close`,
    );

    // Telemetry counts the opaque connections on both sides.
    const outbound = await scrape(client.adminPort);
    expect(promValue(outbound, 'weft_tcp_connections_opened_total', { direction: 'outbound' })).toBeGreaterThanOrEqual(4);
    expect(promValue(outbound, 'weft_tcp_received_bytes_total', { direction: 'outbound' })).toBeGreaterThan(400_000);
  });

  it('authorizes opaque TCP by peer identity', async () => {
    const dbPort = await freePort();
    const cp = await startControlPlane({
      config: yamlDocs(
        service('client', { calls: ['db'] }),
        service('intruder', { calls: ['db'] }),
        service('db', { protocol: 'tcp', port: dbPort }),
        authorizationPolicy('db-from-client', 'db', 'client'),
      ),
    });
    const echo = await startEchoApp();
    const [, intruder] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'intruder', controlPlane: cp.xdsAddress, args: ['--upstream', 'db=127.0.0.1:0'] }),
      startSidecar({ service: 'db', controlPlane: cp.xdsAddress, appPort: echo.port }),
    ]);
    await waitForMeshSync(cp, 3);
    await echoWithHalfClose(await dial(dbPort), 'allowed peer');
    const denied = await dial(intruder.tcpPorts['--upstream db.default'] as number);
    const deniedIn = collect(denied, 'denied peer');
    denied.write('let me in');
    await deniedIn.closed;
    expect(deniedIn.text).toBe('');
    expect(echo.connections.length).toBe(1);
  });
});

function authorizationPolicy(name: string, target: string, fromService: string): string {
  return stringify({
    apiVersion: 'weft.io/v1alpha1',
    kind: 'AuthorizationPolicy',
    metadata: { name },
    spec: { service: target, rules: [{ from: [{ service: fromService }] }] },
  });
}
