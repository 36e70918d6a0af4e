// The response of the sidecar's HTTP/2 listeners: node:http2's server stream, driven through
// the request path's ProxyResponse (exchange.ts) without node's compatibility response. The
// head is held back until the first body byte, the trailers or the end of the turn, so a
// response that ends right after its head goes out as one HEADERS frame with END_STREAM:
// gRPC's trailers-only form (grpc-status in the headers), which clients only accept in that
// shape. A head sent before the end waits for trailers (the body's end may bring some: a
// gRPC status); none is an empty DATA frame that ends the stream, as node's compatibility
// response does. Also answers `grpc` (a gRPC call: failures become gRPC statuses, see
// synthetic-response.ts); a response cut short resets its stream with an error code.
import type { IncomingHttpHeaders, ServerHttp2Stream, ServerStreamResponseOptions } from 'node:http2';
import type { ProxyResponse, ResponseListener } from './exchange.ts';
import { isGrpcContentType } from './grpc.ts';

const CUT_SHORT = new Error('response cut short: the upstream failed');
const NO_TRAILERS = {};

export class H2Response implements ProxyResponse {
  done = false;
  readonly #stream: ServerHttp2Stream;
  readonly #requestHeaders: IncomingHttpHeaders;
  #status = 200;
  /** The head head() was given and that has not gone out yet. */
  #head: string[] | undefined;
  #trailers: Record<string, string> | undefined;
  #grpc: boolean | undefined;
  readonly #flushSoon = (): void => {
    if (this.#head !== undefined) this.#send(false);
  };

  constructor(stream: ServerHttp2Stream, requestHeaders: IncomingHttpHeaders) {
    this.#stream = stream;
    this.#requestHeaders = requestHeaders;
  }

  get headersSent(): boolean {
    return this.#stream.headersSent;
  }

  get destroyed(): boolean {
    return this.#stream.destroyed;
  }

  get grpc(): boolean {
    this.#grpc ??= isGrpcContentType(this.#requestHeaders['content-type']);
    return this.#grpc;
  }

  closeAfter(): void {}

  head(status: number, headers: readonly string[]): void {
    if (this.#head !== undefined || this.#stream.headersSent) return;
    queueMicrotask(this.#flushSoon);
    this.#status = status;
    this.#head = headers as string[];
  }

  data(chunk: Buffer): boolean {
    if (this.#stream.destroyed) return false;
    if (!this.#stream.headersSent && !this.#send(false)) return false;
    return this.#stream.write(chunk);
  }

  finish(chunk?: Buffer | string, trailers?: readonly string[]): void {
    if (this.done) return;
    this.done = true;
    const stream = this.#stream;
    if (stream.destroyed) return;
    const hasChunk = chunk !== undefined && chunk.length > 0;
    const hasTrailers = trailers !== undefined && trailers.length > 0;
    if (hasTrailers) {
      const object: Record<string, string> = {};
      for (let i = 0; i + 1 < trailers.length; i += 2) object[(trailers[i] as string).toLowerCase()] = trailers[i + 1] as string;
      this.#trailers = object;
    }
    if (!stream.headersSent) {
      // Everything is known now: with nothing after the head, it ends the stream itself.
      const endsWithHead = !hasChunk && !hasTrailers;
      if (!this.#send(endsWithHead, hasTrailers)) return;
      if (endsWithHead) return;
    }
    if (hasChunk) stream.end(chunk);
    else stream.end();
  }

  reset(): void {
    // stream.close(code) would end the stream cleanly first when the client has finished
    // sending; destroying it with an error always resets it (INTERNAL_ERROR).
    this.#stream.destroy(CUT_SHORT);
  }

  onClose(listener: ResponseListener): void {
    this.#stream.once('close', listener);
  }

  offClose(listener: ResponseListener): void {
    this.#stream.off('close', listener);
  }

  onDrain(listener: ResponseListener): void {
    this.#stream.once('drain', listener);
  }

  /** Sends the head (the held one, or a bare status): with END_STREAM when `ending`;
   * otherwise waiting for trailers unless it is known none follow. False when HTTP/2
   * refused the head (a connection-specific field) and the stream was reset. */
  #send(ending: boolean, trailers = true): boolean {
    const stream = this.#stream;
    const head = this.#head ?? [];
    this.#head = undefined;
    const fields: string[] = [':status', String(this.#status)];
    for (let i = 0; i + 1 < head.length; i += 2) fields.push(head[i] as string, head[i + 1] as string);
    const waitForTrailers = !ending && trailers;
    // sendDate (not in node's types): the upstream's Date, or none, passes through as it is.
    const options: ServerStreamResponseOptions & { sendDate: boolean } = { endStream: ending, waitForTrailers, sendDate: false };
    try {
      stream.respond(fields, options);
    } catch {
      this.reset();
      return false;
    }
    // Only a response that waits for trailers needs the listener (and its closure).
    if (waitForTrailers) stream.once('wantTrailers', () => this.#sendTrailers());
    return true;
  }

  #sendTrailers(): void {
    try {
      this.#stream.sendTrailers(this.#trailers ?? NO_TRAILERS);
    } catch {
      // Trailers HTTP/2 refuses (a connection-specific field): the stream cannot end well.
      this.reset();
    }
  }
}
