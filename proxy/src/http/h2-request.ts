// An HTTP/2 request as the request path sees it (exchange.ts): node:http2's server stream
// with the header block it opened with, its connection (the socket itself, not HTTP/2's
// proxy of it) and its body as a BodySource read from the stream, with the stream's own flow
// control as backpressure. The stream is used directly, not through node's compatibility
// request (a Readable of its own, fed from the stream): that layer cost about a fifth of a
// sidecar's CPU per HTTP/2 request (bench/RESULTS.md, stop 14).

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { BodySink, BodySource } from './body.ts';
import type { ProxyRequest } from './exchange.ts';

export class H2Request implements ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor = 2;
  readonly rawHeaders: readonly string[];
  /** Lower-case names, pseudo-header fields included (node's header object for the stream). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly connection: Socket;
  readonly body: StreamBody | undefined;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[], connection: Socket) {
    this.method = headers[':method'] ?? '';
    this.url = headers[':path'] ?? '';
    this.headers = headers;
    this.rawHeaders = rawHeaders;
    this.connection = connection;
    if (stream.endAfterHeaders) this.body = undefined;
    else {
      const length = headers['content-length'];
      this.body = new StreamBody(stream, length === undefined ? -1 : Number(length));
    }
  }
}

/** An HTTP/2 request's body, read from its stream once someone reads it. */
export class StreamBody implements BodySource {
  readonly length: number;
  received = 0;
  complete = false;
  trailers: readonly string[] = [];
  readonly #stream: ServerHttp2Stream;
  #sink: BodySink | undefined;
  #listening = false;
  #error: Error | undefined;
  /** Data that came while nobody read (between two attempts). */
  #waiting: Buffer[] | undefined;

  constructor(stream: ServerHttp2Stream, length: number) {
    this.#stream = stream;
    this.length = Number.isFinite(length) ? length : -1;
    // Trailers come as their own event whether or not the body is being read yet.
    stream.once('trailers', this.#onTrailers);
  }

  read(sink: BodySink): void {
    this.#sink = sink;
    if (this.#error) {
      sink.onBodyError(this.#error);
      return;
    }
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting !== undefined) for (const chunk of waiting) sink.onBodyData(chunk);
    if (this.complete) {
      sink.onBodyEnd();
      return;
    }
    if (!this.#listening) {
      this.#listening = true;
      const stream = this.#stream;
      stream.on('data', this.#onData);
      stream.once('end', this.#onEnd);
      stream.once('aborted', this.#onAborted);
      stream.once('error', this.#onAborted);
    }
    this.#stream.resume();
  }

  unread(sink: BodySink): void {
    if (this.#sink !== sink) return;
    this.#sink = undefined;
    this.#stream.pause();
  }

  pause(): void {
    this.#stream.pause();
  }

  resume(): void {
    if (this.#sink !== undefined) this.#stream.resume();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.received += chunk.length;
    const sink = this.#sink;
    if (sink === undefined) {
      if (this.#waiting === undefined) this.#waiting = [chunk];
      else this.#waiting.push(chunk);
      this.#stream.pause();
    } else if (!sink.onBodyData(chunk)) {
      this.#stream.pause();
    }
  };

  readonly #onTrailers = (_trailers: unknown, _flags: number, raw: string[]): void => {
    if (raw.length > 0) this.trailers = raw;
  };

  readonly #onEnd = (): void => {
    this.complete = true;
    if (this.#waiting === undefined) this.#sink?.onBodyEnd();
  };

  readonly #onAborted = (): void => {
    if (this.complete || this.#error) return;
    this.#error = new Error('client reset the HTTP/2 stream before the request body was complete');
    this.#sink?.onBodyError(this.#error);
  };
}
