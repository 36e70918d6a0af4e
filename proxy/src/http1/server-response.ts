// The response to one HTTP/1.1 request, written through its connection's outbox
// (write-batch.ts). It chooses the framing once, at the head: the upstream's Content-Length
// when it gave one, chunked for an HTTP/1.1 client otherwise, and the connection's close for
// an HTTP/1.0 one; no body at all for HEAD, 1xx, 204 and 304. Trailers go out only with
// chunked framing (HTTP/1.1 has nowhere else to put them).
import type { ProxyResponse, ResponseListener } from '../http/exchange.ts';
import { rawHeader } from '../http/headers.ts';
import { chunkedEnd, chunkSize, responseHead, statusHasNoBody } from './message-head.ts';
import type { Http1Request } from './server-request.ts';
import type { Outbox } from './write-batch.ts';

/** What a response needs of its connection (server-connection.ts). */
export interface ResponseConnection {
  readonly outbox: Outbox;
  /** The connection will close after this response (shutdown, or the client asked). */
  readonly closing: boolean;
  /** Bytes went out: the stream idle timer starts again. */
  touch(): void;
  /** The response is complete; the connection moves on to the next request or closes. */
  responseDone(res: Http1Response): void;
  /** Destroys the connection (a response cut short). */
  destroy(): void;
}

type Framing = 'none' | 'length' | 'chunked' | 'close';

/** Body bytes waiting to be written beyond which data() asks the writer to wait. */
const HIGH_WATER_MARK = 64 * 1024;

export class Http1Response implements ProxyResponse {
  readonly req: Http1Request;
  readonly grpc = false;
  headersSent = false;
  done = false;
  /** The downstream connection closed before the response finished. */
  destroyed = false;
  /** Close the connection after this response. */
  closing: boolean;
  readonly #conn: ResponseConnection;
  #framing: Framing = 'none';
  #onClose: ResponseListener | undefined;
  #moreOnClose: ResponseListener[] | undefined;
  #onDrain: ResponseListener | undefined;

  constructor(conn: ResponseConnection, req: Http1Request) {
    this.#conn = conn;
    this.req = req;
    this.closing = !req.keepAlive;
  }

  closeAfter(): void {
    this.closing = true;
  }

  head(status: number, headers: readonly string[], reason = ''): void {
    if (this.headersSent || this.destroyed) return;
    this.headersSent = true;
    const req = this.req;
    let text = responseHead(status, reason, headers);
    if (req.method === 'HEAD' || statusHasNoBody(status)) {
      this.#framing = 'none';
    } else if (rawHeader(headers, 'content-length') !== undefined) {
      this.#framing = 'length';
    } else if (req.httpVersionMinor >= 1) {
      this.#framing = 'chunked';
      text += 'transfer-encoding: chunked\r\n';
    } else {
      this.#framing = 'close';
      this.closing = true;
    }
    if (this.closing || this.#conn.closing) {
      this.closing = true;
      text += 'connection: close\r\n\r\n';
    } else if (req.httpVersionMinor === 0) {
      text += 'connection: keep-alive\r\n\r\n';
    } else {
      text += '\r\n';
    }
    this.#conn.outbox.text(text);
    this.#conn.touch();
  }

  data(chunk: Buffer): boolean {
    if (this.done || this.destroyed) return true;
    const outbox = this.#conn.outbox;
    const n = chunk.length;
    if (n === 0 || this.#framing === 'none') return true;
    if (this.#framing === 'chunked') {
      outbox.text(chunkSize(n));
      outbox.bytes(chunk);
      outbox.text('\r\n');
    } else {
      outbox.bytes(chunk);
    }
    this.#conn.touch();
    return !outbox.full(HIGH_WATER_MARK);
  }

  finish(chunk?: Buffer | string, trailers?: readonly string[]): void {
    if (this.done || this.destroyed) return;
    if (!this.headersSent) this.head(200, []);
    if (chunk !== undefined && chunk.length > 0) this.data(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (this.#framing === 'chunked') this.#conn.outbox.text(chunkedEnd(trailers));
    this.done = true;
    this.#onClose = undefined;
    this.#moreOnClose = undefined;
    this.#conn.responseDone(this);
  }

  reset(): void {
    if (this.done || this.destroyed) return;
    this.#conn.destroy();
  }

  onClose(listener: ResponseListener): void {
    if (this.#onClose === undefined) this.#onClose = listener;
    else if (this.#moreOnClose === undefined) this.#moreOnClose = [listener];
    else this.#moreOnClose.push(listener);
  }

  offClose(listener: ResponseListener): void {
    if (this.#onClose === listener) this.#onClose = undefined;
    else if (this.#moreOnClose) this.#moreOnClose = this.#moreOnClose.filter((l) => l !== listener);
  }

  onDrain(listener: ResponseListener): void {
    this.#onDrain = listener;
  }

  // --- the connection's side ---

  /** The connection can take more: whoever waited for it goes on. */
  drained(): void {
    const listener = this.#onDrain;
    if (listener === undefined) return;
    this.#onDrain = undefined;
    listener();
  }

  /** The connection is gone before the response finished. */
  closed(): void {
    if (this.done || this.destroyed) return;
    this.destroyed = true;
    const first = this.#onClose;
    const more = this.#moreOnClose;
    this.#onClose = undefined;
    this.#moreOnClose = undefined;
    first?.();
    if (more) for (const listener of more) listener();
  }
}
