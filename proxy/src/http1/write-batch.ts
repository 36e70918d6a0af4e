// Write batching: what the proxy writes to a connection while it handles one read from a
// parser (an upstream response's head, body and chunked terminator, or a request's head and
// body) leaves as one write when that read is done, not one write per piece. On loopback a
// write is a syscall that runs the receiver's TCP stack, and over TLS also a record to seal:
// it is the largest cost a proxied request has, so fewer writes is most of the speed.
//
// A read starts a batch at its first parser event (enterRead); the parser's onExecute ends
// it (flushReads). A write made outside any read (a timer's answer, a connection just
// established, a drain) goes out at once.
import type { Socket } from 'node:net';
import { PENDING, type WriteOwner, writeError, writeToHandle } from './handle-write.ts';

/** Above this, pieces are written as they are (writev) rather than copied into one buffer. */
const COPY_LIMIT = 16 * 1024;

/**
 * The one writer of a connection's socket while the codec owns it: pieces wait here, go to
 * the socket's handle in one write (handle-write.ts), and while a write is unfinished (TLS
 * writes always finish a turn later) the next ones wait for it, in order.
 */
export class Outbox implements WriteOwner {
  readonly socket: Socket;
  /** Runs when the connection can take more, after full() told a writer to wait. */
  onDrain: (() => void) | undefined;
  #parts: (string | Buffer)[] = [];
  #bytes = 0;
  #strings = true;
  #queued = false;
  #wantDrain = false;
  /** Bytes of the write the handle has not finished (0: none unfinished). */
  #inFlight = 0;
  /** Run once nothing waits and no write is unfinished (see whenIdle). */
  #onIdle: (() => void)[] | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /**
   * Whether a writer should wait: `limit` bytes or more wait here or in the socket. A true
   * answer promises one onDrain call, once the socket has taken them (even when the batch
   * they wait in goes out whole).
   */
  full(limit: number): boolean {
    if (this.#bytes + this.#inFlight < limit) return false;
    this.#wantDrain = true;
    return true;
  }

  /** A head or other protocol text (latin1). */
  text(text: string): void {
    this.#parts.push(text);
    this.#bytes += text.length;
    this.#queue();
  }

  bytes(chunk: Buffer): void {
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    this.#strings = false;
    this.#queue();
  }

  /**
   * Runs `then` once everything written so far has left (now, if nothing waits): before the
   * socket is handed to code that writes through its stream, or closed after its last answer.
   */
  whenIdle(then: () => void): void {
    this.flush();
    if (this.#inFlight === 0) {
      then();
      return;
    }
    if (this.#onIdle === undefined) this.#onIdle = [then];
    else this.#onIdle.push(then);
  }

  /** Drops what waits (the connection is being destroyed). */
  discard(): void {
    this.#parts = [];
    this.#bytes = 0;
    this.#strings = true;
  }

  flush(): void {
    const parts = this.#parts;
    const n = parts.length;
    if (n === 0 || this.#inFlight > 0) return;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      this.discard();
      return;
    }
    const bytes = this.#bytes;
    const data =
      n === 1 ? (parts[0] as string | Buffer) : this.#strings ? parts.join('') : bytes <= COPY_LIMIT ? concat(parts, bytes) : parts;
    this.#parts = [];
    this.#bytes = 0;
    this.#strings = true;
    const result = writeToHandle(socket, data, this);
    if (typeof result !== 'number') {
      socket.destroy(result);
      return;
    }
    if (result === PENDING) {
      this.#inFlight = bytes;
      return;
    }
    // The socket took it all: the waiting writer goes on (after this turn, as a drain would).
    if (this.#wantDrain) process.nextTick(drainLater, this);
  }

  /** handle-write.ts: the unfinished write is done. */
  written(status: number): void {
    this.#inFlight = 0;
    const failed = status < 0;
    if (failed) {
      this.discard();
      this.socket.destroy(writeError(status));
    } else {
      this.flush();
      if (this.#inFlight > 0) return;
    }
    const idle = this.#onIdle;
    if (idle !== undefined) {
      this.#onIdle = undefined;
      for (const then of idle) then();
    }
    // A failed socket is closing: its writers hear 'close', not a drain.
    if (!failed) this.#drained();
  }

  #drained(): void {
    if (!this.#wantDrain) return;
    this.#wantDrain = false;
    this.onDrain?.();
  }

  /** For flush only. */
  static drain(outbox: Outbox): void {
    outbox.#drained();
  }

  #queue(): void {
    // Outside a read (a timer's answer, a connection just established, a drain): at once.
    if (!batching) {
      this.flush();
      return;
    }
    if (this.#queued) return;
    this.#queued = true;
    pending.push(this);
  }

  /** For flushReads only. */
  static release(outbox: Outbox): void {
    outbox.#queued = false;
    outbox.flush();
  }
}

let batching = false;
/** performance.now() when the read being handled began. */
let readStartedAt = 0;
const pending: Outbox[] = [];

/** A parser event of a read has begun: writes wait for flushReads(). */
export function enterRead(): void {
  if (batching) return;
  batching = true;
  readStartedAt = performance.now();
}

/** Now, to the precision timers need: inside a read, when that read began (one clock
 * read per read rather than one per use). */
export function eventTime(): number {
  return batching ? readStartedAt : performance.now();
}

/** The read has been handled: every connection written to meanwhile gets one write. */
export function flushReads(): void {
  batching = false;
  // Flushing writes to sockets synchronously; nothing re-enters a batch meanwhile.
  for (let i = 0; i < pending.length; i++) Outbox.release(pending[i] as Outbox);
  pending.length = 0;
}

function drainLater(outbox: Outbox): void {
  Outbox.drain(outbox);
}

function concat(parts: readonly (string | Buffer)[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string | Buffer;
    if (typeof part === 'string') at += out.write(part, at, 'latin1');
    else at += part.copy(out, at);
  }
  return out;
}
