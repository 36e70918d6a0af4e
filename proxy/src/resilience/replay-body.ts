// Keeps a request body replayable for retries without delaying the first attempt: the
// body streams to the first attempt as usual while a copy of each chunk is kept, up to
// `maxBytes` (linkerd's max_request_bytes). A body that does not fit, or that had not
// fully arrived when the attempt failed, is not replayable, and the request is not retried.
//
// States: 'unread' — nothing has read the request yet (an attempt that failed to connect
// never touched it), so the next attempt can take the stream itself; 'recording' — an
// attempt is reading it and chunks are kept; 'overflow' — it outgrew the bound, copies
// were dropped; 'claimed' — an attempt that was given the stream was abandoned before it
// started and may still read it later, so nobody else may.
import type { IncomingMessage } from 'node:http';

type State = 'unread' | 'recording' | 'overflow' | 'claimed';

export class ReplayBody {
  readonly #req: IncomingMessage;
  readonly #maxBytes: number;
  #state: State = 'unread';
  #chunks: Buffer[] = [];
  #bytes = 0;
  /** Made only when recording starts, so a body that is never copied costs no closure. */
  #onData: ((chunk: Buffer) => void) | undefined;

  constructor(req: IncomingMessage, maxBytes: number) {
    this.#req = req;
    this.#maxBytes = maxBytes;
  }

  /** Call when an attempt given `req` starts reading it. */
  recordFromNowOn(): void {
    if (this.#state !== 'unread' && this.#state !== 'claimed') return;
    if (this.#maxBytes <= 0) {
      this.#state = 'overflow';
      return;
    }
    this.#state = 'recording';
    this.#onData = (chunk: Buffer) => this.#record(chunk);
    this.#req.on('data', this.#onData);
  }

  /** An attempt given `req` was abandoned before it started: it may still read it later. */
  claim(): void {
    if (this.#state === 'unread') this.#state = 'claimed';
  }

  /**
   * The body for the next attempt: the request stream itself when nobody read it yet, the
   * recorded bytes when the whole body arrived within the bound, undefined when it cannot
   * be sent again.
   */
  next(): IncomingMessage | Buffer | undefined {
    switch (this.#state) {
      case 'unread':
        return this.#req;
      case 'recording':
        if (!this.#req.readableEnded) return undefined;
        return this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#bytes);
      default:
        return undefined;
    }
  }

  /** Whether `next()` would hand out the live stream rather than a copy. */
  get unread(): boolean {
    return this.#state === 'unread';
  }

  /** Whether `next()` has a body to give. */
  get replayable(): boolean {
    return this.#state === 'unread' || (this.#state === 'recording' && this.#req.readableEnded);
  }

  #record(chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) {
      this.#state = 'overflow';
      this.#chunks = [];
      if (this.#onData) this.#req.off('data', this.#onData);
      return;
    }
    this.#chunks.push(chunk);
  }
}
