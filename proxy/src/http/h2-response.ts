// The response object of the sidecar's HTTP/2 listeners: node's compatibility response,
// driven through the request path's ProxyResponse (exchange.ts). The head is held back until
// the first body byte, the trailers or the end of the turn, so a response that ends right
// after its head goes out as one HEADERS frame with END_STREAM: gRPC's trailers-only form
// (grpc-status in the headers), which clients only accept in that shape. Also answers `grpc`
// (a gRPC call: failures become gRPC statuses, see synthetic-response.ts); a response cut
// short resets its stream with an error code.
import { Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import type { ProxyResponse, ResponseListener } from './exchange.ts';
import { isGrpcContentType } from './grpc.ts';

const CUT_SHORT = new Error('response cut short: the upstream failed');

export class H2Response extends Http2ServerResponse implements ProxyResponse {
  done = false;
  #status = 0;
  /** The head head() was given and that has not gone out yet. */
  #head: string[] | undefined;
  #grpc: boolean | undefined;
  readonly #flushSoon = (): void => {
    if (this.#head === undefined) return;
    try {
      this.#flush();
    } catch {
      // A head HTTP/2 refuses (a connection-specific header): the stream cannot go on.
      this.reset();
    }
  };

  constructor(stream: ServerHttp2Stream) {
    super(stream);
    // The upstream's Date (or none) passes through as it is.
    this.sendDate = false;
  }

  get grpc(): boolean {
    this.#grpc ??= isGrpcContentType(this.req.headers['content-type']);
    return this.#grpc;
  }

  closeAfter(): void {}

  head(status: number, headers: readonly string[]): void {
    if (this.#head !== undefined || this.headersSent) return;
    queueMicrotask(this.#flushSoon);
    this.#status = status;
    this.#head = headers as string[];
  }

  data(chunk: Buffer): boolean {
    if (this.#head !== undefined) this.#flush();
    return this.write(chunk);
  }

  finish(chunk?: Buffer | string, trailers?: readonly string[]): void {
    if (this.done) return;
    this.done = true;
    const hasChunk = chunk !== undefined && chunk.length > 0;
    if (trailers !== undefined && trailers.length > 0) {
      if (this.#head !== undefined) this.#flush();
      const object: Record<string, string> = {};
      for (let i = 0; i + 1 < trailers.length; i += 2) object[(trailers[i] as string).toLowerCase()] = trailers[i + 1] as string;
      this.addTrailers(object);
    } else if (hasChunk && this.#head !== undefined) {
      this.#flush();
    }
    // A head still held goes out from inside end() (writeHead below): with END_STREAM.
    if (hasChunk) this.end(chunk);
    else this.end();
  }

  /** node's end() writes the head itself when none was sent: ours, now carrying END_STREAM. */
  // biome-ignore lint/suspicious/noExplicitAny: Http2ServerResponse's overloads, passed through
  override writeHead(status: number, ...rest: any[]): this {
    if (this.#head !== undefined && rest.length === 0) {
      const head = this.#head;
      this.#head = undefined;
      return super.writeHead(this.#status, head as never);
    }
    return super.writeHead(status, ...(rest as [never]));
  }

  reset(): void {
    // stream.close(code) would end the stream cleanly first when the client has finished
    // sending; destroying it with an error always resets it (INTERNAL_ERROR).
    this.destroy(CUT_SHORT);
  }

  onClose(listener: ResponseListener): void {
    this.once('close', listener);
  }

  offClose(listener: ResponseListener): void {
    this.off('close', listener);
  }

  onDrain(listener: ResponseListener): void {
    this.once('drain', listener);
  }

  #flush(): void {
    const head = this.#head as string[];
    this.#head = undefined;
    super.writeHead(this.#status, head as never);
  }
}

// The compatibility response has no `destroyed` of its own (its types say it has): its stream's.
Object.defineProperty(H2Response.prototype, 'destroyed', {
  get(this: H2Response) {
    return this.stream.destroyed;
  },
});
