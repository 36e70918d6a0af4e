// One keep-alive connection to an upstream (a peer sidecar over mTLS, the local app, a
// destination outside the mesh), carrying one exchange at a time for its pool
// (client-pool.ts). llhttp reads the socket's handle directly; the request goes out through
// the connection's outbox, head and body in as few writes as the body allows.
//
// States: 'idle' — in the pool; 'busy' — an exchange is on it (request being sent and/or
// response being read); 'closed'. A connection is reused only when both sides said
// keep-alive and the exchange ended cleanly: the response complete and the request body
// sent whole.
import type { Socket } from 'node:net';
import type { BodySink, BodySource } from '../http/body.ts';
import { isNamed, rawHeader } from '../http/headers.ts';
import type { UpstreamController, UpstreamHandler, UpstreamRequest } from '../http/upstream-exchange.ts';
import { bodyBytesCopied } from './body-garbage.ts';
import { BODY, type MessageEvents, MessageParser, NO_BODY, type ParseError, UPGRADE } from './llhttp.ts';
import { chunkedEnd, chunkSize, requestHead } from './message-head.ts';
import { startReading, stopReading } from './socket-flow.ts';
import { eventTime, Outbox } from './write-batch.ts';

/** What a connection tells its pool. */
export interface ConnectionPool {
  /** The exchange is over and the connection may carry another. */
  release(connection: Http1ClientConnection): void;
  /** The connection is closed (or leaves the pool: an upgrade). */
  closed(connection: Http1ClientConnection): void;
}

/** The upstream closed or broke the connection before the response was complete. */
export class UpstreamSocketError extends Error {
  override readonly name = 'UpstreamSocketError';
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** The upstream answered with something llhttp refused. */
export class UpstreamParseError extends Error {
  override readonly name = 'UpstreamParseError';
  readonly code: string;
  constructor(error: ParseError) {
    super(`invalid response from upstream: ${error.reason ?? error.message}`);
    this.code = error.code ?? 'HPE_INVALID';
  }
}

/** Request body bytes waiting to be written beyond which the body source is paused. */
const HIGH_WATER_MARK = 64 * 1024;

type State = 'idle' | 'busy' | 'closed';

export class Http1ClientConnection implements MessageEvents, UpstreamController, BodySink {
  readonly socket: Socket;
  readonly outbox: Outbox;
  state: State = 'idle';
  /** performance.now() when it became idle (the pool's keep-alive sweep reads it). */
  idleSince = 0;
  /** How long the upstream lets it idle (Keep-Alive: timeout=N, less a second), in ms; -1: it did not say. */
  idleLimitMs = -1;
  /** Exchanges carried so far. */
  requests = 0;
  readonly #pool: ConnectionPool;
  readonly #parser: MessageParser;
  #handler: UpstreamHandler | undefined;
  #request: UpstreamRequest | undefined;
  #body: BodySource | null = null;
  #chunked = false;
  /** The request has been written whole. */
  #sent = false;
  /** The response head has been passed on (a failure now is in the middle of a response). */
  #responding = false;
  #keepAlive = true;
  #bodyPaused = false;
  #upgradeHead: { status: number; headers: readonly string[] } | undefined;
  /** Header lines the first request carries for the whole connection ('' for none). */
  readonly #introduction: string;

  /** `introduction`: header lines sent once, with the first request (the pool's connection
   * headers, rendered once by the pool). */
  constructor(pool: ConnectionPool, socket: Socket, maxHeaderBytes: number, introduction = '') {
    this.#pool = pool;
    this.#introduction = introduction;
    this.socket = socket;
    this.outbox = new Outbox(socket);
    this.#parser = new MessageParser('response', maxHeaderBytes, this);
    socket.on('error', this.#onError);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    this.outbox.onDrain = this.#onDrain;
    if (!this.#parser.consume(socket)) {
      this.state = 'closed';
      socket.destroy();
      return;
    }
    socket.resume();
    startReading(socket);
  }

  /** Sends `request` and reports to `handler` (the connection must be idle). */
  send(request: UpstreamRequest, handler: UpstreamHandler): void {
    this.state = 'busy';
    this.idleSince = 0;
    this.requests += 1;
    this.#handler = handler;
    this.#request = request;
    this.#sent = false;
    this.#responding = false;
    this.#keepAlive = true;
    this.#bodyPaused = false;
    handler.onRequestStart(this);
    if (this.#handler !== handler) return; // aborted at once
    let head = requestHead(request.method, request.path, request.headers);
    if (this.requests === 1) head += this.#introduction;
    const body = request.body;
    this.#body = body;
    if (body === null) {
      this.#chunked = false;
      this.outbox.text(`${head}\r\n`);
      this.#sent = true;
      return;
    }
    // The forwarded headers keep a Content-Length; without one the body goes chunked (a
    // chunked upload, an HTTP/2 body, or the kept copy of either for a retry).
    this.#chunked = rawHeader(request.headers, 'content-length') === undefined;
    if (this.#chunked) head += 'transfer-encoding: chunked\r\n';
    this.outbox.text(`${head}\r\n`);
    body.read(this);
  }

  // --- BodySink: the request body, as it arrives from downstream ---

  onBodyData(chunk: Buffer): boolean {
    if (this.state !== 'busy' || this.#sent) return true;
    if (this.#chunked) {
      this.outbox.text(chunkSize(chunk.length));
      this.outbox.bytes(chunk);
      this.outbox.text('\r\n');
    } else {
      this.outbox.bytes(chunk);
    }
    if (!this.outbox.full(HIGH_WATER_MARK)) return true;
    this.#bodyPaused = true;
    return false;
  }

  onBodyEnd(): void {
    if (this.state !== 'busy' || this.#sent) return;
    if (this.#chunked) this.outbox.text(chunkedEnd((this.#body as BodySource).trailers));
    this.#sent = true;
    this.#body = null;
  }

  onBodyError(error: Error): void {
    if (this.state !== 'busy' || this.#sent) return;
    // The downstream will never finish the body: the upstream must not take what it got
    // for a whole request.
    this.#fail(error);
  }

  // --- UpstreamController ---

  abort(reason: Error): void {
    if (this.state !== 'busy') return;
    this.#fail(reason);
  }

  pause(): void {
    stopReading(this.socket);
  }

  resume(): void {
    if (this.state === 'busy') startReading(this.socket);
  }

  // --- parser events: the response ---

  onHead(
    _versionMinor: number,
    headers: string[],
    _method: string,
    _url: string,
    status: number,
    reason: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const handler = this.#handler;
    if (handler === undefined) {
      // Nothing was asked: an unsolicited response. This connection cannot be trusted.
      this.destroy();
      return NO_BODY;
    }
    if (status === 101 && upgrade && this.#request?.upgrade === true) {
      this.#upgradeHead = { status, headers };
      return UPGRADE;
    }
    if (status < 200) return BODY; // informational (100 Continue, 103): the final one follows
    if (!keepAlive) this.#keepAlive = false;
    this.#readKeepAlive(headers);
    this.#responding = true;
    handler.onResponseStart(this, status, headers, reason);
    return this.#request?.method === 'HEAD' ? NO_BODY : BODY;
  }

  onBody(chunk: Buffer): void {
    bodyBytesCopied(chunk.length);
    this.#handler?.onResponseData(this, chunk);
  }

  onComplete(trailers: string[]): void {
    const handler = this.#handler;
    if (handler === undefined || !this.#responding) return; // an informational response ended
    this.#handler = undefined;
    this.#request = undefined;
    // A response that ended before the request was sent whole (an early 413, say) leaves
    // the upstream expecting the rest of a body: the connection cannot carry another.
    if (!this.#sent) {
      this.#body?.unread(this);
      this.#body = null;
      this.#keepAlive = false;
    }
    if (this.#keepAlive) {
      this.state = 'idle';
      this.idleSince = eventTime();
      // A handler that paused the response (a full downstream) may not have resumed it: the
      // next exchange must find the connection reading (its 'end' too, while idle).
      startReading(this.socket);
      this.#pool.release(this);
    } else {
      this.destroy();
    }
    handler.onResponseEnd(this, trailers);
  }

  onExecute(result: number | ParseError): void {
    if (typeof result !== 'number') {
      this.#fail(new UpstreamParseError(result));
      return;
    }
    if (this.#upgradeHead !== undefined) this.#handOver(this.#parser.currentBuffer().subarray(result));
  }

  onFailure(error: unknown): void {
    // A handler threw while the response was read: the exchange fails as a broken upstream
    // would, and the connection goes (its state is unknown).
    try {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    } catch {
      this.destroy();
    }
  }

  /** Closes the connection; an exchange on it fails. */
  destroy(): void {
    this.outbox.discard();
    this.socket.destroy();
  }

  // --- internals ---

  #fail(error: Error): void {
    const handler = this.#handler;
    this.#handler = undefined;
    this.#request = undefined;
    this.#body?.unread(this);
    this.#body = null;
    this.destroy();
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.#pool.closed(this);
    }
    handler?.onResponseError(this, error);
  }

  #handOver(head: Buffer): void {
    const handler = this.#handler as UpstreamHandler;
    const { status, headers } = this.#upgradeHead as { status: number; headers: readonly string[] };
    this.#upgradeHead = undefined;
    this.#handler = undefined;
    this.#request = undefined;
    this.state = 'closed';
    const socket = this.socket;
    this.#parser.unconsume();
    socket.off('error', this.#onError);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onClose);
    this.outbox.onDrain = undefined;
    socket.on('error', ignore);
    socket.pause();
    this.#pool.closed(this);
    this.#parser.closeSoon();
    if (!handler.onUpgrade) {
      socket.destroy();
      return;
    }
    // The handler writes through the socket's stream: not while a write of ours is unfinished.
    this.outbox.whenIdle(() => handler.onUpgrade?.(status, headers, socket, head));
  }

  /** Keep-Alive: timeout=N — the upstream closes idle connections after N s; we stop using
   * them a second before that, so a request never races the upstream's close. */
  #readKeepAlive(headers: readonly string[]): void {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (!isNamed(name, 'keep-alive')) continue;
      const match = /timeout=(\d+)/i.exec(headers[i + 1] as string);
      if (match) this.idleLimitMs = Math.max(0, Number(match[1]) * 1000 - 1000);
      return;
    }
  }

  readonly #onError = (error: NodeJS.ErrnoException): void => {
    if (this.state !== 'busy') return;
    this.#fail(new UpstreamSocketError(`upstream connection failed: ${error.message}`, error.code ?? 'UND_ERR_SOCKET'));
  };

  readonly #onEnd = (): void => {
    // A body delimited by the close ends here.
    if (this.#responding) this.#parser.finish();
    if (this.state === 'idle') this.destroy();
  };

  readonly #onClose = (): void => {
    if (this.state === 'busy') {
      const code = this.#responding ? 'UND_ERR_SOCKET' : 'ECONNRESET';
      this.#fail(
        new UpstreamSocketError(
          this.#responding
            ? 'upstream closed the connection in the middle of the response'
            : 'upstream closed the connection before responding',
          code,
        ),
      );
    } else if (this.state !== 'closed') {
      this.state = 'closed';
      this.#pool.closed(this);
    }
    this.#parser.closeSoon();
  };

  readonly #onDrain = (): void => {
    if (!this.#bodyPaused || this.state !== 'busy') return;
    this.#bodyPaused = false;
    this.#body?.resume();
  };
}

function ignore(): void {}
