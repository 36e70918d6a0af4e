// An HTTP/2 request as the request path sees it (exchange.ts): node's compatibility request
// with its connection (the socket itself, not HTTP/2's proxy of it) and its body as a
// BodySource read from the stream, with the stream's own flow control as backpressure.

import type { Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import type { BodySink, BodySource } from './body.ts';
import type { ProxyRequest } from './exchange.ts';

export class H2Request implements ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor = 2;
  readonly rawHeaders: readonly string[];
  readonly connection: Socket;
  readonly body: StreamBody | undefined;
  readonly #req: Http2ServerRequest;

  constructor(req: Http2ServerRequest, connection: Socket) {
    this.#req = req;
    this.method = req.method;
    this.url = req.url;
    this.rawHeaders = req.rawHeaders;
    this.connection = connection;
    if (req.stream.endAfterHeaders) this.body = undefined;
    else {
      const length = req.headers['content-length'];
      this.body = new StreamBody(req, length === undefined ? -1 : Number(length));
    }
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    return this.#req.headers;
  }
}

/** An HTTP/2 request's body, read from its stream once someone reads it. */
export class StreamBody implements BodySource {
  readonly length: number;
  received = 0;
  complete = false;
  trailers: readonly string[] = [];
  readonly #req: Http2ServerRequest;
  #sink: BodySink | undefined;
  #listening = false;
  #error: Error | undefined;
  /** Data that came while nobody read (between two attempts). */
  #waiting: Buffer[] | undefined;

  constructor(req: Http2ServerRequest, length: number) {
    this.#req = req;
    this.length = Number.isFinite(length) ? length : -1;
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
      const req = this.#req;
      req.on('data', this.#onData);
      req.once('end', this.#onEnd);
      req.once('aborted', this.#onAborted);
      req.once('error', this.#onAborted);
    }
    this.#req.resume();
  }

  unread(sink: BodySink): void {
    if (this.#sink !== sink) return;
    this.#sink = undefined;
    this.#req.pause();
  }

  pause(): void {
    this.#req.pause();
  }

  resume(): void {
    if (this.#sink !== undefined) this.#req.resume();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.received += chunk.length;
    const sink = this.#sink;
    if (sink === undefined) {
      if (this.#waiting === undefined) this.#waiting = [chunk];
      else this.#waiting.push(chunk);
      this.#req.pause();
    } else if (!sink.onBodyData(chunk)) {
      this.#req.pause();
    }
  };

  readonly #onEnd = (): void => {
    this.complete = true;
    const raw = this.#req.rawTrailers;
    if (raw.length > 0) this.trailers = raw;
    if (this.#waiting === undefined) this.#sink?.onBodyEnd();
  };

  readonly #onAborted = (): void => {
    if (this.complete || this.#error) return;
    this.#error = new Error('client reset the HTTP/2 stream before the request body was complete');
    this.#sink?.onBodyError(this.#error);
  };
}
