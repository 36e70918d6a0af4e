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

/** Above this, pieces are written as they are (writev) rather than copied into one buffer. */
const COPY_LIMIT = 16 * 1024;

export class Outbox {
  readonly socket: Socket;
  /** Runs when the connection can take more, after full() told a writer to wait. */
  onDrain: (() => void) | undefined;
  #parts: (string | Buffer)[] = [];
  #bytes = 0;
  #strings = true;
  #queued = false;
  #wantDrain = false;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('drain', () => this.#drained());
  }

  /**
   * Whether a writer should wait: `limit` bytes or more wait here or in the socket. A true
   * answer promises one onDrain call, once the socket has taken them (even when the batch
   * they wait in goes out whole).
   */
  full(limit: number): boolean {
    if (this.#bytes + this.socket.writableLength < limit) return false;
    this.#wantDrain = true;
    return true;
  }

  /** A head or other protocol text (latin1). */
  text(text: string): void {
    if (!batching) {
      this.socket.write(text, 'latin1');
      return;
    }
    this.#parts.push(text);
    this.#bytes += text.length;
    this.#queue();
  }

  bytes(chunk: Buffer): void {
    if (!batching) {
      this.socket.write(chunk);
      return;
    }
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    this.#strings = false;
    this.#queue();
  }

  /** Writes what waits, then ends the socket (FIN after the last byte). */
  end(): void {
    this.flush();
    this.socket.end();
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
    if (n === 0) return;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      this.discard();
      return;
    }
    if (n === 1) socket.write(parts[0] as string, 'latin1');
    else if (this.#strings) socket.write(parts.join(''), 'latin1');
    else if (this.#bytes <= COPY_LIMIT) socket.write(concat(parts, this.#bytes));
    else {
      socket.cork();
      for (let i = 0; i < n; i++) {
        const part = parts[i] as string | Buffer;
        if (typeof part === 'string') socket.write(part, 'latin1');
        else socket.write(part);
      }
      socket.uncork();
    }
    this.#parts = [];
    this.#bytes = 0;
    this.#strings = true;
    // The socket took it all: no 'drain' will come, so the waiting writer goes on now.
    if (this.#wantDrain && !socket.writableNeedDrain) process.nextTick(drainLater, this);
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
