// Joins two established byte streams (an upgraded HTTP connection, a CONNECT tunnel, an opaque
// TCP connection and its mTLS hop): bytes flow both ways with backpressure, a FIN from one
// side is passed on as a FIN to the other (half-close) while the other direction keeps
// flowing, and when either side dies (error, reset, idle timeout) both are destroyed.
// What the streams are and how they were opened is the caller's business.
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';

export interface SpliceResult {
  /** Bytes read from `a` and written to `b`. */
  readonly aToB: number;
  readonly bToA: number;
  /** Why it ended: '' for a clean close (both sides FIN), else the first error's code or 'idle-timeout'. */
  readonly reason: string;
}

export interface SpliceOptions {
  /** No byte either way for this long closes both sides. 0: none. */
  readonly idleTimeoutMs: number;
  readonly onClose: (result: SpliceResult) => void;
}

type Stream = Duplex & { setTimeout?: (ms: number, cb?: () => void) => unknown; allowHalfOpen: boolean };

export function splice(a: Duplex, b: Duplex, options: SpliceOptions): void {
  const x = a as Stream;
  const y = b as Stream;
  // Half-close needs both sides to outlive their readable end.
  x.allowHalfOpen = true;
  y.allowHalfOpen = true;
  let aToB = 0;
  let bToA = 0;
  let reason = '';
  let closed = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    options.onClose({ aToB, bToA, reason });
  };
  // A side that died (reset, error) is passed on as a reset, not a FIN: a client that
  // half-closed must not mistake the death of the other end for its half-close.
  const fail = (why: string) => {
    if (reason === '') reason = why;
    resetAndDestroy(x);
    resetAndDestroy(y);
  };
  const idle = () => {
    if (reason === '') reason = 'idle-timeout';
    x.destroy();
    y.destroy();
  };
  const onClose = () => {
    closed += 1;
    // One side gone for good: the other cannot be served any more.
    if (!x.destroyed) x.destroy();
    if (!y.destroyed) y.destroy();
    if (closed === 2) finish();
  };
  x.on('data', (chunk: Buffer) => {
    aToB += chunk.length;
    if (!y.write(chunk)) x.pause();
  });
  y.on('data', (chunk: Buffer) => {
    bToA += chunk.length;
    if (!x.write(chunk)) y.pause();
  });
  x.on('drain', () => y.resume());
  y.on('drain', () => x.resume());
  // FIN → FIN; once both directions have ended the sockets close on their own.
  x.on('end', () => y.end());
  y.on('end', () => x.end());
  x.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'error'));
  y.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'error'));
  x.on('close', onClose);
  y.on('close', onClose);
  // Ended both ways: make sure nothing lingers half-open on an idle peer.
  const whenDone = () => {
    if (x.writableFinished && y.writableFinished && x.readableEnded && y.readableEnded) {
      x.destroy();
      y.destroy();
    }
  };
  x.on('finish', whenDone);
  y.on('finish', whenDone);
  if (options.idleTimeoutMs > 0) {
    // Each socket reads one direction and writes the other, so either timer sees all traffic.
    x.setTimeout?.(options.idleTimeoutMs, idle);
    y.setTimeout?.(options.idleTimeoutMs, idle);
  }
  x.resume();
  y.resume();
}

/** Closes a stream with a TCP reset when it is (or wraps) a TCP socket; destroys it otherwise. */
export function resetAndDestroy(stream: Duplex): void {
  if (stream.destroyed) return;
  const raw = stream instanceof TLSSocket ? (stream as TLSSocket & { _parent?: unknown })._parent : stream;
  if (raw instanceof Socket && !raw.destroyed) {
    try {
      raw.resetAndDestroy();
    } catch {
      // not a TCP handle (a pipe, or already detached): a plain close is all there is
    }
  }
  stream.destroy();
}
