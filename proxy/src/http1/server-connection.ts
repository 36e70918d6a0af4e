// One client connection on an HTTP/1.1 listener: llhttp reads the socket's handle directly
// (llhttp.ts), each request goes to the listener's handler with its response, one at a
// time: a pipelined request waits, and the socket is not read, until the one before it has
// been answered. Upgrade and CONNECT requests take the socket with them (onUpgrade).
//
// States, read off the fields: reading a head (`headSince` > 0: the headers timeout runs;
// it starts when a read leaves part of a head in the parser, or when the connection opens),
// a request in flight (`active`: the stream idle timeout runs), idle between requests
// (`idleSince` > 0: the keep-alive timeout runs), handed over (an upgrade) or closed.
//
// Every breach of the limits (limits.ts) and every parse error gets its status and a line in
// the log naming the peer, and closes the connection: bytes after a refused head cannot be
// trusted to be the next request.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { LiveBody } from '../http/body.ts';
import { isNamed } from '../http/headers.ts';
import { bodyBytesCopied } from './body-garbage.ts';
import type { Http1Limits } from './limits.ts';
import { BODY, type MessageEvents, MessageParser, type ParseError } from './llhttp.ts';
import { httpDate } from './message-head.ts';
import { Http1Request } from './server-request.ts';
import { Http1Response, type ResponseConnection } from './server-response.ts';
import { startReading, stopReading } from './socket-flow.ts';
import { eventTime, Outbox } from './write-batch.ts';

export type RequestHandler = (req: Http1Request, res: Http1Response) => void;
/** An Upgrade or CONNECT request: the socket is the handler's now; `head` is what the client
 * sent after the request's head. Nothing has been answered yet. */
export type UpgradeHandler = (req: Http1Request, socket: Socket, head: Buffer) => void;

/** What a connection needs of its listener (http1-server.ts). */
export interface ConnectionHost {
  readonly limits: Http1Limits;
  readonly log: Logger;
  readonly onRequest: RequestHandler;
  readonly onUpgrade: UpgradeHandler | undefined;
  /** Shutting down: every connection closes after its current response. */
  readonly closing: boolean;
  forget(connection: Http1ServerConnection): void;
}

const REASON: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
};

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** How long a connection closed while its client may still be sending keeps reading (and
 * dropping) what comes, after its last answer went out: Envoy's delayed_close_timeout is 1 s,
 * nginx's lingering_timeout 5 s. */
export const LINGER_MS = 2000;

export class Http1ServerConnection implements MessageEvents, ResponseConnection {
  readonly socket: Socket;
  readonly outbox: Outbox;
  readonly #host: ConnectionHost;
  readonly #parser: MessageParser;
  /** The request whose body the parser is reading. */
  #reading: Http1Request | undefined;
  /** The exchange in flight: its response has not finished. */
  #active: Http1Response | undefined;
  /** Pipelined exchanges waiting for the active one. */
  #queue: Http1Response[] | undefined;
  /** An Upgrade/CONNECT head just parsed: the socket goes to onUpgrade after this read. */
  #upgrade: Http1Request | undefined;
  headSince: number;
  idleSince = 0;
  lastActivity: number;
  #refused = false;
  #gone = false;
  /** Heads parsed during the current read. */
  #heads = 0;

  constructor(host: ConnectionHost, socket: Socket) {
    this.#host = host;
    this.socket = socket;
    this.outbox = new Outbox(socket);
    const now = performance.now();
    this.headSince = now; // a new connection owes us a request within the headers timeout
    this.lastActivity = now;
    this.#parser = new MessageParser('request', host.limits.maxHeaderBytes, this);
  }

  /** Starts reading: bytes a detector already read (`seen`), then what the stream buffered
   * meanwhile, then the socket's handle, directly. */
  serve(seen: Buffer | undefined): void {
    const socket = this.socket;
    socket.on('error', ignore);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    this.outbox.onDrain = this.#onDrain;
    const buffered = socket.read() as Buffer | null;
    if (!this.#parser.consume(socket)) {
      socket.destroy();
      return;
    }
    // The stream stays flowing so that 'end' and 'close' are emitted; data goes to the parser.
    socket.resume();
    startReading(socket);
    if (seen !== undefined && seen.length > 0) this.#executeSeen(seen);
    if (buffered !== null && buffered.length > 0 && !this.#gone && !this.#refused) this.#executeSeen(buffered);
  }

  get closing(): boolean {
    return this.#host.closing;
  }

  /** No request in flight or being read: shutdown may close it now. */
  get idle(): boolean {
    return this.#active === undefined && this.#reading === undefined && this.#upgrade === undefined;
  }

  touch(): void {
    this.lastActivity = eventTime();
  }

  destroy(): void {
    this.outbox.discard();
    this.socket.destroy();
  }

  // --- parser events ---

  onHead(
    versionMinor: number,
    headers: string[],
    method: string,
    url: string,
    _status: number,
    _reason: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    this.headSince = 0;
    this.idleSince = 0;
    this.#heads += 1;
    if (this.#refused || this.#gone) return BODY;
    const limits = this.#host.limits;
    if (headers.length > limits.maxHeaders * 2) {
      this.refuse(431, `more than ${limits.maxHeaders} header fields`);
      return BODY;
    }
    if (url.length > limits.maxUriBytes) {
      this.refuse(414, `request target longer than ${limits.maxUriBytes} bytes`, method);
      return BODY;
    }
    let length = -1;
    let chunked = false;
    let expect: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (isNamed(name, 'content-length')) length = Number(headers[i + 1]);
      else if (isNamed(name, 'transfer-encoding')) chunked = true;
      else if (isNamed(name, 'expect')) expect = headers[i + 1];
    }
    const maxBody = limits.maxRequestBytes;
    if (maxBody > 0 && length > maxBody) {
      this.refuse(413, `request body of ${length} bytes exceeds the limit of ${maxBody}`, method);
      return BODY;
    }
    const hasBody = !upgrade && (chunked || length > 0);
    const body = hasBody ? new LiveBody(chunked ? -1 : length, this) : undefined;
    const req = new Http1Request(method, url, versionMinor, headers, this.socket, body, keepAlive);
    if (upgrade) {
      if (this.#host.onUpgrade === undefined || this.#active !== undefined) {
        this.refuse(400, this.#active === undefined ? 'upgrades are not served here' : 'an upgrade may not be pipelined', method);
        return BODY;
      }
      this.#upgrade = req;
      return BODY;
    }
    if (expect !== undefined) {
      if (expect.toLowerCase() !== '100-continue') {
        this.refuse(417, `unsupported expectation "${expect.slice(0, 100)}"`, method);
        return BODY;
      }
      // Answered here, as Envoy does: the client sends its body without waiting for the app.
      if (versionMinor >= 1 && hasBody) this.outbox.text(CONTINUE);
    }
    if (body !== undefined) this.#reading = req;
    else this.#parser.bodiless();
    const res = new Http1Response(this, req);
    if (this.#active === undefined) this.#start(res);
    else {
      if (this.#queue === undefined) this.#queue = [res];
      else this.#queue.push(res);
      // One answer at a time: stop reading until the one in flight is done.
      stopReading(this.socket);
    }
    return BODY;
  }

  onBody(chunk: Buffer): void {
    const req = this.#reading;
    if (req === undefined || this.#refused) return;
    const body = req.body as LiveBody;
    const maxBody = this.#host.limits.maxRequestBytes;
    if (maxBody > 0 && body.received + chunk.length > maxBody) {
      this.refuse(413, `chunked request body exceeds the limit of ${maxBody} bytes`, req.method);
      return;
    }
    bodyBytesCopied(chunk.length);
    body.push(chunk);
  }

  onComplete(trailers: string[]): void {
    const req = this.#reading;
    if (req === undefined) return;
    this.#reading = undefined;
    (req.body as LiveBody).end(trailers);
  }

  onExecute(result: number | ParseError): void {
    const now = eventTime();
    this.lastActivity = now;
    const heads = this.#heads;
    this.#heads = 0;
    if (typeof result !== 'number') {
      this.#parseError(result);
      return;
    }
    if (this.#upgrade !== undefined) {
      this.#handOver(this.#parser.currentBuffer().subarray(result));
      return;
    }
    // Bytes came that completed no head and belong to no body: a head has begun.
    if (heads === 0 && this.#reading === undefined && this.headSince === 0) this.headSince = now;
  }

  onFailure(error: unknown): void {
    this.#host.log.error({ err: error, peer: this.socket.remoteAddress }, 'internal error in the HTTP/1.1 codec; connection closed');
    this.destroy();
  }

  // --- LiveBody flow: a body nobody reads fast enough stops the socket ---

  stop(): void {
    stopReading(this.socket);
  }

  start(): void {
    if (this.#queue === undefined || this.#queue.length === 0) startReading(this.socket);
  }

  // --- responses ---

  responseDone(res: Http1Response): void {
    if (res !== this.#active) return;
    this.#active = undefined;
    this.touch();
    const req = res.req;
    // A body not read to its end would be parsed as the next request: close instead.
    const unread = req.body !== undefined && !req.body.complete;
    if (res.closing || this.#host.closing || this.#refused || unread) {
      this.#closeAfterWrites(unread || this.#refused);
      return;
    }
    const next = this.#queue?.shift();
    if (next !== undefined) {
      this.#start(next);
      return;
    }
    this.idleSince = eventTime();
    startReading(this.socket);
  }

  /** Answers a request the connection itself refuses (logged as `why`), then closes. */
  refuse(status: number, message: string, method?: string, why = 'request refused by the HTTP/1.1 codec'): void {
    if (this.#refused || this.#gone) return;
    this.#refused = true;
    const socket = this.socket;
    this.#host.log.warn(
      { peer: socket.remoteAddress, port: socket.remotePort, ...(method ? { method } : {}), status, reason: message },
      why,
    );
    stopReading(socket);
    const active = this.#abandon(message);
    if (active?.headersSent) {
      // An answer already on its way cannot be replaced.
      this.destroy();
      return;
    }
    const body = `weft: ${message}\n`;
    this.outbox.text(
      `HTTP/1.1 ${status} ${REASON[status] ?? 'Bad Request'}\r\ndate: ${httpDate()}\r\nconnection: close\r\n` +
        `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    this.#closeAfterWrites(true);
  }

  /** The sweep (http1-server.ts): the timers of this connection, read at `now`. */
  checkTimers(now: number): void {
    const limits = this.#host.limits;
    if (this.#gone || this.#refused || this.#upgrade !== undefined) return;
    if (this.headSince > 0 && now - this.headSince > limits.headersTimeoutMs) {
      if (this.#active !== undefined) {
        this.destroy();
        return;
      }
      this.refuse(408, `request headers not received within ${limits.headersTimeoutMs} ms`);
      return;
    }
    if (this.#active !== undefined) {
      const streamIdle = limits.streamIdleTimeoutMs;
      if (streamIdle <= 0 || now - this.lastActivity <= streamIdle) return;
      const active = this.#active;
      const body = active.req.body;
      if (!active.headersSent && body !== undefined && !body.complete) {
        this.refuse(408, `request body stalled for ${streamIdle} ms`, active.req.method, 'request body stalled: stream idle timeout');
        return;
      }
      this.#host.log.debug({ peer: this.socket.remoteAddress, timeoutMs: streamIdle }, 'connection idle: stream idle timeout');
      this.destroy();
      return;
    }
    if (this.idleSince > 0 && now - this.idleSince > limits.idleTimeoutMs) this.destroy();
  }

  // --- internals ---

  #start(res: Http1Response): void {
    this.#active = res;
    if (this.#queue !== undefined && this.#queue.length === 0) startReading(this.socket);
    try {
      this.#host.onRequest(res.req, res);
    } catch (error) {
      // The handler is guarded; this is a bug in the codec's own code path.
      this.#host.log.error({ err: error }, 'internal error while handling a request');
      this.destroy();
    }
  }

  #executeSeen(data: Buffer): void {
    this.headSince = 0;
    const result = this.#parser.execute(data);
    if (typeof result === 'number' && this.#upgrade !== undefined) {
      this.#heads = 0;
      this.#handOver(data.subarray(result));
    } else {
      this.onExecute(result);
    }
  }

  #handOver(head: Buffer): void {
    const req = this.#upgrade as Http1Request;
    this.#upgrade = undefined;
    this.#detach();
    const socket = this.socket;
    // The handler writes through the socket's stream: not while a write of ours is unfinished.
    this.outbox.whenIdle(() => {
      try {
        (this.#host.onUpgrade as UpgradeHandler)(req, socket, head);
      } catch (error) {
        this.#host.log.error({ err: error, url: req.url }, 'internal error while handling an upgrade');
        socket.destroy();
      }
    });
  }

  /** The socket leaves the codec (an upgrade): the stream reads it again. */
  #detach(): void {
    this.#gone = true;
    const socket = this.socket;
    this.#parser.unconsume();
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onClose);
    this.outbox.onDrain = undefined;
    socket.pause();
    this.#host.forget(this);
    this.#parser.closeSoon();
  }

  /**
   * The exchange in flight ends without this connection: whoever handles it hears first that
   * its downstream is gone (so it answers nothing of its own, and its outcome says DC), then
   * a body still arriving fails with `why` (an upload cut short is cut short upstream too).
   * Pipelined requests are dropped. Returns the response that was in flight.
   */
  #abandon(why: string): Http1Response | undefined {
    const active = this.#active;
    const reading = this.#reading;
    this.#active = undefined;
    this.#reading = undefined;
    this.#queue = undefined;
    active?.closed();
    reading?.body?.fail(new Error(why));
    return active;
  }

  #parseError(error: ParseError): void {
    const code = error.code ?? '';
    if (code === 'HPE_HEADER_OVERFLOW') this.refuse(431, 'request headers too large or too many');
    else this.refuse(400, error.reason ?? error.message);
  }

  /** Closes once the last answer has gone out; `linger` when the client may still be sending. */
  #closeAfterWrites(linger: boolean): void {
    this.#queue = undefined;
    const socket = this.socket;
    this.outbox.whenIdle(() => {
      if (linger) this.#linger();
      else socket.destroySoon();
    });
  }

  /**
   * Closing with bytes unread makes the kernel reset the connection, and a reset throws away
   * the part of the answer not sent yet (a large answer to an upload nobody read). So our side
   * ends after the last byte (FIN), and what the client still sends is read and dropped until
   * it closes (#onEnd) or LINGER_MS pass, as nginx's lingering close and Envoy's delayed close do.
   */
  #linger(): void {
    const socket = this.socket;
    if (this.#gone || socket.destroyed) return;
    // Nothing read from now on is answered or handed on (onHead, onBody, parse errors).
    this.#refused = true;
    socket.end();
    startReading(socket);
    setTimeout(destroyLingering, LINGER_MS, socket).unref();
  }

  // A client that ends its side has gone, as node:http takes it (httpAllowHalfOpen off):
  // what it asked for is abandoned, and cancelled upstream.
  readonly #onEnd = (): void => {
    this.destroy();
  };

  readonly #onClose = (): void => {
    if (this.#gone) return;
    this.#gone = true;
    this.#abandon('client connection closed');
    this.#host.forget(this);
    this.#parser.closeSoon();
  };

  readonly #onDrain = (): void => {
    this.#active?.drained();
  };
}

function ignore(): void {}

function destroyLingering(socket: Socket): void {
  socket.destroy();
}
