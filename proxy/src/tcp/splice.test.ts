import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type SpliceResult, splice } from './splice.ts';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** Two connected sockets on loopback: [client end, server end]. */
async function pair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  const [serverSide] = (await accepted) as [Socket];
  serverSide.on('error', () => {});
  sockets.push(client, serverSide);
  return [client, serverSide];
}

function text(socket: Socket): { value: string } {
  const got = { value: '' };
  socket.setEncoding('utf8').on('data', (d: string) => {
    got.value += d;
  });
  return got;
}

/** client ⇄ [a | splice | b] ⇄ app */
async function spliced(idleTimeoutMs = 0) {
  const [client, a] = await pair();
  const [b, app] = await pair();
  const closed = new Promise<SpliceResult>((resolve) => splice(a, b, { idleTimeoutMs, onClose: resolve }));
  return { client, app, closed };
}

describe('splice', () => {
  it('carries bytes both ways and a FIN each way, then closes with the byte counts', async () => {
    const { client, app, closed } = await spliced();
    const atApp = text(app);
    const atClient = text(client);
    client.end('request');
    await once(app, 'end');
    expect(atApp.value).toBe('request');
    // The client half-closed; the app still answers.
    app.end('answer');
    await once(client, 'end');
    expect(atClient.value).toBe('answer');
    expect(await closed).toEqual({ aToB: 7, bToA: 6, reason: '' });
  });

  it('passes a reset on as a reset', async () => {
    const { client, app, closed } = await spliced();
    const reset = new Promise<string>((resolve) => client.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')));
    app.resetAndDestroy();
    expect(await reset).toBe('ECONNRESET');
    expect((await closed).reason).toBe('ECONNRESET');
  });

  it('closes both sides (FIN) after the idle timeout', async () => {
    const { client, app, closed } = await spliced(100);
    const clientEnded = once(client, 'end');
    const appEnded = once(app, 'end');
    expect((await closed).reason).toBe('idle-timeout');
    await Promise.all([clientEnded, appEnded]);
  });
});
