import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { addonState, loadAddon, originalDestination } from './original-dst.ts';

// Redirected connections need iptables in a network namespace: test/e2e/interception.test.ts.
describe('original destination', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  async function acceptedSocket(): Promise<Socket> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const [socket] = await accepted;
    closers.push(() => {
      client.destroy();
      socket.destroy();
      server.close();
    });
    return socket;
  }

  it.skipIf(!addonState.available)('says a connection made straight to this listener was not redirected', async () => {
    expect(originalDestination(await acceptedSocket())).toBeUndefined();
  });

  it('reads the answer of the addon, and treats the listening address itself as "not redirected"', async () => {
    const socket = await acceptedSocket();
    const elsewhere = { address: '10.1.2.3', port: 8080, family: 4 as const };
    expect(originalDestination(socket, { originalDst: () => elsewhere })).toEqual(elsewhere);
    const self = { address: '127.0.0.1', port: socket.localPort as number, family: 4 as const };
    expect(originalDestination(socket, { originalDst: () => self })).toBeUndefined();
    expect(originalDestination(socket, { originalDst: () => null })).toBeUndefined();
    const closed = {
      originalDst: () => {
        throw Object.assign(new Error('getsockname: Bad file descriptor'), { code: 'EBADF' });
      },
    };
    expect(originalDestination(socket, closed)).toBeUndefined();
    expect(originalDestination(socket, undefined)).toBeUndefined();
  });

  it('says why when the addon cannot be loaded, without throwing', () => {
    const missing = loadAddon('/nonexistent/original_dst.node');
    expect(missing.binding).toBeUndefined();
    expect(missing.state).toEqual({ available: false, reason: expect.stringContaining('was not built') });
  });
});
