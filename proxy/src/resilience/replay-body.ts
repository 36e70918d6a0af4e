// Keeps a request body replayable for retries without delaying the first attempt: the live
// body goes to the first attempt as usual while a copy of each chunk is kept, up to
// `maxBytes` (linkerd's max_request_bytes). A body that does not fit, or that had not fully
// arrived when the attempt failed, is not replayable, and the request is not retried.
//
// States: 'unread' — no attempt has read the body (one that failed to connect never touched
// it), so the next attempt can take the live body; 'recording' — an attempt is reading it
// and chunks are kept; 'overflow' — it outgrew the bound (or no copy may be kept) and was
// read: it cannot be sent again.
import { type BodySink, type BodySource, BufferBody } from '../http/body.ts';

type State = 'unread' | 'recording' | 'overflow';

export class ReplayBody {
  readonly #source: BodySource;
  readonly #maxBytes: number;
  #state: State = 'unread';
  #chunks: Buffer[] = [];
  #bytes = 0;
  readonly #live: BodySource;

  constructor(source: BodySource, maxBytes: number) {
    this.#source = source;
    this.#maxBytes = maxBytes;
    this.#live = new RecordingBody(source, this);
  }

  /**
   * The body for the next attempt: the live body while nobody has read it (recorded as it is
   * read), the kept copy once the whole body arrived within the bound, undefined when it
   * cannot be sent again.
   */
  next(): BodySource | undefined {
    switch (this.#state) {
      case 'unread':
        return this.#live;
      case 'recording':
        if (!this.#source.complete) return undefined;
        return new BufferBody(
          this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#bytes),
          this.#source.trailers,
        );
      default:
        return undefined;
    }
  }

  /** Whether next() has a body to give. */
  get replayable(): boolean {
    return this.#state === 'unread' || (this.#state === 'recording' && this.#source.complete);
  }

  /** RecordingBody: an attempt starts reading the live body. */
  started(): void {
    if (this.#state !== 'unread') return;
    this.#state = this.#maxBytes > 0 ? 'recording' : 'overflow';
  }

  /** RecordingBody: a chunk went to the attempt. */
  record(chunk: Buffer): void {
    if (this.#state !== 'recording') return;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) {
      this.#state = 'overflow';
      this.#chunks = [];
      return;
    }
    this.#chunks.push(chunk);
  }
}

/** The live body as an attempt reads it: each chunk is offered to the ReplayBody on its way. */
class RecordingBody implements BodySource, BodySink {
  readonly #source: BodySource;
  readonly #replay: ReplayBody;
  #sink: BodySink | undefined;

  constructor(source: BodySource, replay: ReplayBody) {
    this.#source = source;
    this.#replay = replay;
  }

  get length(): number {
    return this.#source.length;
  }
  get received(): number {
    return this.#source.received;
  }
  get complete(): boolean {
    return this.#source.complete;
  }
  get trailers(): readonly string[] {
    return this.#source.trailers;
  }

  read(sink: BodySink): void {
    this.#sink = sink;
    this.#replay.started();
    this.#source.read(this);
  }

  unread(sink: BodySink): void {
    if (this.#sink !== sink) return;
    this.#sink = undefined;
    this.#source.unread(this);
  }

  pause(): void {
    this.#source.pause();
  }

  resume(): void {
    this.#source.resume();
  }

  onBodyData(chunk: Buffer): boolean {
    this.#replay.record(chunk);
    return this.#sink?.onBodyData(chunk) ?? true;
  }

  onBodyEnd(): void {
    this.#sink?.onBodyEnd();
  }

  onBodyError(error: Error): void {
    this.#sink?.onBodyError(error);
  }
}
