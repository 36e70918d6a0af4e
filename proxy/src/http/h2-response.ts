// The response object of the sidecar's HTTP/2 listeners: node's compatibility response,
// which the request path drives exactly as it drives an HTTP/1.1 ServerResponse, with one
// difference that gRPC needs. writeHead is held back until the first body byte, the
// trailers or the end of the turn, so a response that ends right after its head goes out as
// one HEADERS frame with END_STREAM: gRPC's trailers-only form (grpc-status in the
// headers), which clients only accept in that shape. Also answers `grpc` (a gRPC call:
// failures become gRPC statuses, see synthetic-response.ts) and `destroyed`; and a
// response destroyed half-way resets its stream with an error code.
import type { OutgoingHttpHeaders } from 'node:http';
import { Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import { isGrpcContentType } from './grpc.ts';

const CUT_SHORT = new Error('response cut short: the upstream failed');

export class H2Response extends Http2ServerResponse {
  #status = 0;
  /** The head writeHead was given and that has not gone out yet. */
  #head: string[] | undefined;
  #trailers = false;
  #grpc: boolean | undefined;
  readonly #flushSoon = (): void => {
    if (this.#head === undefined) return;
    try {
      this.#flush();
    } catch {
      // A head HTTP/2 refuses (a connection-specific header): the stream cannot go on.
      this.destroy();
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

  override writeHead(
    status: number,
    message?: string | OutgoingHttpHeaders | readonly string[],
    head?: OutgoingHttpHeaders | readonly string[],
  ): this {
    const raw = Array.isArray(head) ? head : Array.isArray(message) ? message : undefined;
    if (raw === undefined) {
      // end() writes the head itself when none was sent: ours, now carrying END_STREAM.
      if (this.#head !== undefined) return this.#flush();
      return typeof message === 'string' ? super.writeHead(status, message, head) : super.writeHead(status, message as OutgoingHttpHeaders);
    }
    if (this.#head === undefined) queueMicrotask(this.#flushSoon);
    this.#status = status;
    this.#head = raw as string[];
    return this;
  }

  override addTrailers(trailers: Parameters<Http2ServerResponse['addTrailers']>[0]): void {
    this.#trailers = true;
    super.addTrailers(trailers);
  }

  // biome-ignore lint/suspicious/noExplicitAny: Writable's overloads, passed through as they are
  override write(chunk: any, ...rest: any[]): boolean {
    if (this.#head !== undefined) this.#flush();
    return super.write(chunk, ...rest);
  }

  // biome-ignore lint/suspicious/noExplicitAny: Writable's overloads, passed through as they are
  override end(chunk?: any, ...rest: any[]): this {
    if (this.#head !== undefined && (this.#trailers || (chunk !== undefined && chunk !== null && typeof chunk !== 'function')))
      this.#flush();
    return super.end(chunk, ...rest);
  }

  /** A response cut short (its upstream failed mid-way) ends in RST_STREAM INTERNAL_ERROR:
   * the client must not take it for a complete one. */
  override destroy(error?: Error): this {
    // stream.close(code) would end the stream cleanly first when the client has finished
    // sending; destroying it with an error always resets it (INTERNAL_ERROR).
    return super.destroy(error ?? CUT_SHORT);
  }

  #flush(): this {
    const head = this.#head as string[];
    this.#head = undefined;
    return super.writeHead(this.#status, head);
  }
}

// The compatibility response has no `destroyed` (ServerResponse does, and the request path
// reads it): its stream's.
Object.defineProperty(H2Response.prototype, 'destroyed', {
  get(this: H2Response) {
    return this.stream.destroyed;
  },
});
