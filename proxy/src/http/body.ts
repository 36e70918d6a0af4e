// A request body as the request path moves it: pushed by the codec that received it (the
// HTTP/1.1 codec's parser, an HTTP/2 stream, or a kept copy for a retry) to at most one
// reader at a time, with backpressure. No Node streams: a stream per request body costs more
// than the body usually weighs. Readers are upstream connections (http1/client-connection.ts,
// upstream/h2-sessions.ts); ReplayBody (resilience/replay-body.ts) keeps a copy on the way.

/** Whoever reads a body: an upstream connection sending it on. */
export interface BodySink {
  /** A chunk of the body. Return false to ask for a pause (the source stops until resume()). */
  onBodyData(chunk: Buffer): boolean;
  /** The body is complete; trailers (if any) are on the source. */
  onBodyEnd(): void;
  /** The body will never complete (the client went away mid-upload, or broke the framing). */
  onBodyError(error: Error): void;
}

export interface BodySource {
  /** Content-Length as announced; -1 when the length is not known ahead (chunked, HTTP/2). */
  readonly length: number;
  /** Body bytes received so far. */
  readonly received: number;
  /** Every byte has arrived. */
  readonly complete: boolean;
  /** Trailer fields that followed the body, [name, value, ...]; empty when none. */
  readonly trailers: readonly string[];
  /** Delivers the body to `sink`: what arrived already, then the rest as it comes. One
   * reader at a time; a second read() replaces the first reader. */
  read(sink: BodySink): void;
  /** Stops delivering to `sink` (an attempt given up on); what comes meanwhile is kept. */
  unread(sink: BodySink): void;
  pause(): void;
  resume(): void;
}

/** A body already in memory (a retry's copy): delivered in one chunk. */
export class BufferBody implements BodySource {
  readonly length: number;
  readonly received: number;
  readonly complete = true;
  readonly trailers: readonly string[];
  readonly #chunk: Buffer;

  constructor(chunk: Buffer, trailers: readonly string[] = []) {
    this.#chunk = chunk;
    this.length = chunk.length;
    this.received = chunk.length;
    this.trailers = trailers;
  }

  read(sink: BodySink): void {
    if (this.#chunk.length > 0) sink.onBodyData(this.#chunk);
    sink.onBodyEnd();
  }

  unread(): void {}
  pause(): void {}
  resume(): void {}
}

/**
 * The body of a live request, fed by its codec (push/end/fail) and read by one sink. Chunks
 * that arrive while nobody reads, or while the reader paused, wait here; the codec is asked
 * to stop reading the connection (onBackpressure) once more than `highWaterMark` bytes wait.
 */
export class LiveBody implements BodySource {
  readonly length: number;
  received = 0;
  complete = false;
  trailers: readonly string[] = [];
  #sink: BodySink | undefined;
  #paused = false;
  #waiting: Buffer[] = [];
  #waitingBytes = 0;
  #error: Error | undefined;
  /** The codec's reading is stopped because of us. */
  #holding = false;
  readonly #flow: { stop(): void; start(): void };
  readonly #highWaterMark: number;

  /** `flow` stops and restarts reading the connection the body arrives on. */
  constructor(length: number, flow: { stop(): void; start(): void }, highWaterMark = 64 * 1024) {
    this.length = length;
    this.#flow = flow;
    this.#highWaterMark = highWaterMark;
  }

  // --- the codec's side ---

  push(chunk: Buffer): void {
    this.received += chunk.length;
    const sink = this.#sink;
    if (sink !== undefined && !this.#paused && this.#waiting.length === 0) {
      if (!sink.onBodyData(chunk)) this.pause();
      return;
    }
    this.#waiting.push(chunk);
    this.#waitingBytes += chunk.length;
    if (this.#waitingBytes > this.#highWaterMark && !this.#holding) {
      this.#holding = true;
      this.#flow.stop();
    }
  }

  end(trailers: readonly string[]): void {
    this.complete = true;
    this.trailers = trailers;
    if (this.#sink !== undefined && !this.#paused && this.#waiting.length === 0) this.#sink.onBodyEnd();
  }

  fail(error: Error): void {
    if (this.complete || this.#error) return;
    this.#error = error;
    this.#sink?.onBodyError(error);
  }

  // --- the reader's side ---

  read(sink: BodySink): void {
    this.#sink = sink;
    this.#paused = false;
    if (this.#error) {
      sink.onBodyError(this.#error);
      return;
    }
    this.#drain();
  }

  unread(sink: BodySink): void {
    if (this.#sink === sink) this.#sink = undefined;
  }

  pause(): void {
    this.#paused = true;
    if (!this.#holding) {
      this.#holding = true;
      this.#flow.stop();
    }
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#drain();
  }

  #drain(): void {
    const sink = this.#sink;
    while (sink !== undefined && this.#sink === sink && !this.#paused && this.#waiting.length > 0) {
      const chunk = this.#waiting.shift() as Buffer;
      this.#waitingBytes -= chunk.length;
      if (!sink.onBodyData(chunk)) this.#paused = true;
    }
    if (this.#paused || this.#sink !== sink || sink === undefined) return;
    if (this.#holding && this.#waitingBytes <= this.#highWaterMark) {
      this.#holding = false;
      this.#flow.start();
    }
    if (this.complete && this.#waiting.length === 0) sink.onBodyEnd();
  }
}
