// The Outbox writes to socket handles directly (handle-write.ts). Over real TLS and TCP
// sockets: a TLS handle takes one write at a time (a second one aborts the process), so
// writes made while one is unfinished must wait and go out in order; a writer told to wait
// hears one drain; a socket handed on, or closed, only after the last write has left.
import { once } from 'node:events';
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { createRootCa } from '@weft/certs';
import { afterEach, describe, expect, it } from 'vitest';
import { stopReading } from './socket-flow.ts';
import { enterRead, flushReads, Outbox } from './write-batch.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A connected pair on `server`: `ours` (the accepting end, as a listener's connection is) is
 * written with, `peer` reads. */
async function connectedPair<S extends Socket>(
  server: Server,
  accepted: 'connection' | 'secureConnection',
  dial: (port: number) => S,
  ready: 'connect' | 'secureConnect',
): Promise<{ ours: S; peer: S }> {
  const ours = new Promise<S>((resolve) => server.once(accepted, resolve));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const peer = dial((server.address() as AddressInfo).port);
  await once(peer, ready);
  const pair = { ours: await ours, peer };
  cleanups.push(() => {
    pair.ours.destroy();
    peer.destroy();
    server.close();
  });
  return pair;
}

function tlsPair(): Promise<{ ours: TLSSocket; peer: TLSSocket }> {
  const root = createRootCa({ trustDomain: 'cluster.local', validityMs: 86_400_000 });
  return connectedPair(
    createTlsServer({ cert: root.certPem, key: root.keyPem }),
    'secureConnection',
    (port) => tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }),
    'secureConnect',
  );
}

function tcpPair(): Promise<{ ours: Socket; peer: Socket }> {
  return connectedPair(createTcpServer(), 'connection', (port) => tcpConnect(port, '127.0.0.1'), 'connect');
}

/** Everything `socket` receives until it ends. */
async function readAll(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  return Buffer.concat(chunks).toString('latin1');
}

describe('Outbox over TLS', () => {
  it('sends writes made while one is unfinished after it, in order, one at a time', async () => {
    const { ours, peer } = await tlsPair();
    const outbox = new Outbox(ours);
    const received = readAll(peer);
    let expected = '';
    // Outside a read every piece is written at once: the first is still unfinished (a TLS
    // write finishes a turn later) when the next ones come.
    for (let i = 0; i < 200; i++) {
      const piece = `piece ${i};`;
      if (i % 3 === 0) outbox.bytes(Buffer.from(piece, 'latin1'));
      else outbox.text(piece);
      expected += piece;
    }
    // Within a read they go out as one write when it ends, behind the unfinished one.
    enterRead();
    outbox.text('batched;');
    outbox.bytes(Buffer.from('tail;'));
    flushReads();
    expected += 'batched;tail;';
    outbox.whenIdle(() => ours.end());
    expect(await received).toBe(expected);
  });

  it('hands the socket on only after its last write finished: the stream may write then', async () => {
    const { ours, peer } = await tlsPair();
    const outbox = new Outbox(ours);
    const received = readAll(peer);
    outbox.text('head;');
    let handedOn = false;
    outbox.whenIdle(() => {
      handedOn = true;
      // A write through the stream while ours was unfinished would abort the process.
      ours.write('through the stream;');
      ours.end();
    });
    expect(handedOn).toBe(false);
    expect(await received).toBe('head;through the stream;');
    expect(handedOn).toBe(true);
  });

  it('closes after the last byte when the close waits for the writes', async () => {
    const { ours, peer } = await tlsPair();
    const outbox = new Outbox(ours);
    const received = readAll(peer);
    const body = Buffer.alloc(256 * 1024, 'x');
    outbox.text('HTTP/1.1 200 OK\r\n\r\n');
    outbox.bytes(body);
    outbox.whenIdle(() => ours.destroySoon());
    expect(await received).toBe(`HTTP/1.1 200 OK\r\n\r\n${body.toString('latin1')}`);
  });
});

describe('Outbox over TCP', () => {
  it('tells a writer to wait while the peer reads nothing, then drains once', async () => {
    const { ours, peer } = await tcpPair();
    peer.pause();
    const outbox = new Outbox(ours);
    let drains = 0;
    outbox.onDrain = () => {
      drains += 1;
    };
    const chunk = Buffer.alloc(1024 * 1024, 'y');
    let sent = 0;
    // Bounded: the kernel's buffers take a few MB at most before a write stays unfinished.
    while (!outbox.full(64 * 1024) && sent < 64) {
      outbox.bytes(chunk);
      sent += 1;
    }
    expect(sent).toBeLessThan(64);
    await new Promise((resolve) => setImmediate(resolve));
    expect(drains).toBe(0);
    let received = 0;
    const all = sent * chunk.length;
    const done = new Promise<void>((resolve) => {
      peer.on('data', (data: Buffer) => {
        received += data.length;
        if (received === all) resolve();
      });
    });
    peer.resume();
    await done;
    await new Promise((resolve) => setImmediate(resolve));
    expect(drains).toBe(1);
    expect(ours.bytesWritten).toBe(all);
  });

  it('destroys the socket with an error naming the errno when the peer is gone', async () => {
    const { ours, peer } = await tcpPair();
    // Not reading: the reset is found by the write, not by a read.
    stopReading(ours);
    const errors: NodeJS.ErrnoException[] = [];
    ours.on('error', (error: NodeJS.ErrnoException) => errors.push(error));
    const gone = once(peer, 'close');
    peer.resetAndDestroy();
    // The reset went out with the close (loopback delivers it at once).
    await gone;
    const closed = new Promise((resolve) => ours.once('close', resolve));
    const outbox = new Outbox(ours);
    expect(() => outbox.text('after the reset')).not.toThrow();
    await closed;
    expect(errors.map((e) => e.code)).toEqual([expect.stringMatching(/^(EPIPE|ECONNRESET)$/)]);
  });
});
