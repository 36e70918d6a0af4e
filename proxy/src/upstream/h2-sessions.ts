// HTTP/2 to one upstream: a few long-lived client sessions (node:http2) that multiplex
// every request — mTLS with ALPN h2 to a peer sidecar's inbound port, or cleartext h2c
// (prior knowledge) to the local app or a plaintext destination. It speaks the upstream
// exchange contract (http/upstream-exchange.ts) as the HTTP/1.1 pool does, so one attempt is
// driven by http/forward-handler.ts whichever protocol carries it. It decides nothing: no
// retries, no timeouts other than connecting.
//
// Session states: 'connecting' — streams may already be opened, node sends them once
// connected; 'open'; 'draining' — the peer sent GOAWAY or the session idled out: no new
// streams, open ones finish; then it is gone, and the next request opens a new session.
// A new session is also opened when every open one has as many streams as its peer allows,
// up to maxSessions.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  connect as h2connect,
  type IncomingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BodySink, BodySource } from '../http/body.ts';
import { CONNECTION_WINDOW_BYTES, type H2Limits } from '../http/h2-server.ts';
import type { UpstreamController, UpstreamDispatcher, UpstreamHandler, UpstreamRequest } from '../http/upstream-exchange.ts';
import { ConnectTimeout, splitAddress } from '../tls/client-tls.ts';

export interface H2SessionsOptions {
  /** host:port ([v6]:port). */
  readonly address: string;
  /** Opens the TLS connection (mTLS, ALPN h2); undefined for cleartext h2c. Throws when it cannot. */
  readonly tls: (() => Duplex) | undefined;
  readonly connectTimeoutMs: number;
  readonly limits: H2Limits;
  /** Sessions per upstream at most; streams queue in node beyond their peers' limits. */
  readonly maxSessions?: number;
  /** Open sessions changed by `delta` (the upstream's connection count). */
  readonly onConnections?: (delta: number) => void;
  /** Fields [name, value, ...] each session sends once, on its first stream (to a peer
   * sidecar: who is calling, x-weft-source). */
  readonly connectionHeaders?: readonly string[];
}

type State = 'connecting' | 'open' | 'draining';

const NO_FIELDS: readonly string[] = [];

class Session {
  readonly h2: ClientHttp2Session;
  state: State = 'connecting';
  /** Streams opened on it and not closed. */
  active = 0;
  /** Why it failed before it connected. */
  error: Error | undefined;
  /** Exchanges waiting for it to connect. */
  waiting: H2Exchange[] = [];
  /** Fields its first stream carries for the whole session; emptied once sent. */
  introduction: readonly string[];

  constructor(h2: ClientHttp2Session, introduction: readonly string[]) {
    this.h2 = h2;
    this.introduction = introduction;
  }

  get maxStreams(): number {
    return this.state === 'open' ? (this.h2.remoteSettings.maxConcurrentStreams ?? 100) : 100;
  }
}

/** A stream the peer refused (REFUSED_STREAM): it was never processed, so it may be sent again. */
class RefusedStream extends Error {
  override readonly name = 'RefusedStreamError';
  readonly code = 'ERR_WEFT_H2_REFUSED_STREAM';
}

class StreamReset extends Error {
  override readonly name = 'StreamResetError';
  readonly code: string;
  constructor(rstCode: number) {
    super(`upstream reset the HTTP/2 stream (code ${rstCode})`);
    this.code = `ERR_HTTP2_STREAM_RESET_${rstCode}`;
  }
}

/** Headers that are HTTP/1.1 connection management and invalid in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);

export class H2Sessions implements UpstreamDispatcher {
  readonly #options: H2SessionsOptions;
  readonly #authority: string;
  readonly #maxSessions: number;
  readonly #host: string;
  readonly #port: number;
  #sessions: Session[] = [];
  #closed = false;

  constructor(options: H2SessionsOptions) {
    this.#options = options;
    this.#authority = `${options.tls ? 'https' : 'http'}://${options.address}`;
    const { host, port } = splitAddress(options.address);
    this.#host = host;
    this.#port = port;
    this.#maxSessions = options.maxSessions ?? 4;
  }

  /** Sessions open or connecting. */
  get size(): number {
    return this.#sessions.length;
  }

  dispatch(options: UpstreamRequest, handler: UpstreamHandler): void {
    const exchange = new H2Exchange(options, handler, this.#options.tls !== undefined);
    if (this.#closed) {
      exchange.fail(new Error('upstream closed'));
      return;
    }
    let session: Session;
    try {
      session = this.#pick();
    } catch (error) {
      exchange.fail(error as Error);
      return;
    }
    exchange.open(session);
  }

  /** Stops new streams; open ones finish. */
  close(): void {
    this.#closed = true;
    for (const s of this.#sessions) s.h2.close();
    this.#sessions = [];
  }

  #pick(): Session {
    let best: Session | undefined;
    for (const s of this.#sessions) {
      if (s.active < s.maxStreams) return s;
      if (!best || s.active < best.active) best = s;
    }
    if (best && this.#sessions.length >= this.#maxSessions) return best;
    return this.#connect();
  }

  #connect(): Session {
    const { tls, limits, connectTimeoutMs } = this.#options;
    const options: SecureClientSessionOptions = {
      settings: {
        enablePush: false,
        initialWindowSize: limits.initialWindowSize,
        maxHeaderListSize: limits.maxHeaderListSize,
      },
    };
    // Small frames must not wait for Nagle (40 ms stalls against delayed ACKs).
    options.createConnection = tls ?? (() => tcpConnect({ host: this.#host, port: this.#port, noDelay: true }));
    const h2 = h2connect(this.#authority, options);
    const session = new Session(h2, this.#options.connectionHeaders ?? NO_FIELDS);
    this.#sessions.push(session);
    const timer = setTimeout(() => {
      if (session.state === 'connecting')
        h2.destroy(new ConnectTimeout(`HTTP/2 connection to ${this.#options.address} not established within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    h2.once('connect', () => {
      clearTimeout(timer);
      if (session.state !== 'connecting') return;
      session.state = 'open';
      this.#options.onConnections?.(1);
      try {
        h2.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      } catch {
        // closing already
      }
      const waiting = session.waiting;
      session.waiting = [];
      for (const exchange of waiting) exchange.connected();
    });
    h2.on('error', (error: Error) => {
      if (session.state === 'connecting') session.error = error;
    });
    h2.once('goaway', () => this.#drain(session));
    if (limits.idleTimeoutMs > 0) {
      h2.setTimeout(limits.idleTimeoutMs, () => {
        if (session.active === 0) {
          this.#drain(session);
          h2.close();
        }
      });
    }
    h2.once('close', () => {
      clearTimeout(timer);
      if (session.state !== 'connecting') this.#options.onConnections?.(-1);
      this.#drain(session);
      session.state = 'draining';
      // Whoever still waits for the connection learns why it never came.
      const waiting = session.waiting;
      session.waiting = [];
      for (const exchange of waiting) exchange.fail(session.error ?? new Error(`HTTP/2 connection to ${this.#options.address} closed`));
    });
    return session;
  }

  #drain(session: Session): void {
    if (session.state === 'open') session.state = 'draining';
    const i = this.#sessions.indexOf(session);
    if (i >= 0) this.#sessions.splice(i, 1);
  }
}

/**
 * One request on one session, the controller its handler holds. The request body is read
 * only once the session is connected (a request that failed to connect never touched it,
 * so the caller may send it elsewhere).
 */
class H2Exchange implements UpstreamController, BodySink {
  readonly #options: UpstreamRequest;
  readonly #handler: UpstreamHandler;
  readonly #scheme: string;
  #session: Session | undefined;
  #stream: ClientHttp2Stream | undefined;
  #started = false;
  #done = false;
  #closed = false;
  #trailers: IncomingHttpHeaders | undefined;
  #error: Error | undefined;
  #bodyPaused = false;

  constructor(options: UpstreamRequest, handler: UpstreamHandler, tls: boolean) {
    this.#options = options;
    this.#handler = handler;
    this.#scheme = tls ? 'https' : 'http';
  }

  open(session: Session): void {
    this.#session = session;
    session.active += 1;
    const body = this.#options.body;
    let stream: ClientHttp2Stream;
    const headers = this.#headers();
    const introduction = session.introduction;
    if (introduction.length > 0) headers.push(...introduction);
    try {
      stream = session.h2.request(headers, { endStream: body === null });
      session.introduction = NO_FIELDS;
    } catch (error) {
      session.active -= 1;
      this.fail(error as Error);
      return;
    }
    this.#stream = stream;
    stream.on('response', this.#onResponse);
    stream.on('data', this.#onData);
    stream.on('trailers', this.#onTrailers);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    stream.on('drain', this.#onDrain);
    if (session.state === 'open') this.connected();
    else session.waiting.push(this);
  }

  /** The session is connected: the request is on its way. */
  connected(): void {
    if (this.#done || this.#started) return;
    this.#started = true;
    this.#handler.onRequestStart(this);
    if (this.#done) return;
    this.#options.body?.read(this);
  }

  // --- BodySink: the request body into the stream, with HTTP/2 flow control as backpressure ---

  onBodyData(chunk: Buffer): boolean {
    const stream = this.#stream;
    if (this.#done || stream === undefined || stream.destroyed) return true;
    if (stream.write(chunk)) return true;
    this.#bodyPaused = true;
    return false;
  }

  onBodyEnd(): void {
    if (this.#done) return;
    this.#stream?.end();
  }

  onBodyError(error: Error): void {
    if (this.#done) return;
    this.abort(error);
  }

  readonly #onDrain = (): void => {
    if (!this.#bodyPaused) return;
    this.#bodyPaused = false;
    this.#options.body?.resume();
  };

  /** Failed before any response: connect failure, or refused. */
  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#handler.onResponseError(this, error);
  }

  // --- UpstreamController ---

  abort(reason: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#unpipe();
    // RST_STREAM CANCEL: the upstream stops working on it.
    if (this.#stream && !this.#stream.destroyed) this.#stream.close(constants.NGHTTP2_CANCEL);
    this.#handler.onResponseError(this, reason);
  }

  pause(): void {
    this.#stream?.pause();
  }

  resume(): void {
    this.#stream?.resume();
  }

  // --- stream events ---

  readonly #onResponse = (headers: IncomingHttpHeaders, flags: number, raw?: string[]): void => {
    if (this.#done) return;
    const status = Number(headers[':status']);
    const pairs: string[] = [];
    if (raw) {
      for (let i = 0; i < raw.length; i += 2)
        if ((raw[i] as string).charCodeAt(0) !== 58) pairs.push(raw[i] as string, raw[i + 1] as string);
    }
    try {
      this.#handler.onResponseStart(this, status, pairs, '');
    } catch (error) {
      this.#failed(error);
      return;
    }
    // Trailers-only (END_STREAM on the headers): the response is complete now.
    if (!this.#done && (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) this.#end();
  };

  readonly #onData = (chunk: Buffer): void => {
    if (this.#done) return;
    try {
      this.#handler.onResponseData(this, chunk);
    } catch (error) {
      this.#failed(error);
    }
  };

  readonly #onTrailers = (trailers: IncomingHttpHeaders): void => {
    this.#trailers = trailers;
  };

  readonly #onEnd = (): void => {
    if (this.#done) return;
    // A reset ends the readable side too: that is a failure, not the end of the response.
    const rst = (this.#stream as ClientHttp2Stream).rstCode;
    if (rst !== undefined && rst !== constants.NGHTTP2_NO_ERROR) this.#onClose();
    else this.#end();
  };

  readonly #onError = (error: Error): void => {
    this.#error ??= error;
  };

  readonly #onClose = (): void => {
    if (!this.#closed) {
      this.#closed = true;
      (this.#session as Session).active -= 1;
    }
    if (this.#done) return;
    const session = this.#session as Session;
    // Never connected: the session's close says why (its error comes after the streams').
    if (!this.#started && session.state === 'connecting') return;
    const rst = (this.#stream as ClientHttp2Stream).rstCode;
    let error: Error;
    if (!this.#started) error = session.error ?? this.#error ?? new Error('HTTP/2 connection closed before the request was sent');
    else if (rst === constants.NGHTTP2_REFUSED_STREAM) error = new RefusedStream('upstream refused the HTTP/2 stream');
    else if (rst !== undefined && rst !== constants.NGHTTP2_NO_ERROR) error = new StreamReset(rst);
    else error = this.#error ?? new StreamReset(constants.NGHTTP2_INTERNAL_ERROR);
    this.#done = true;
    this.#unpipe();
    this.#handler.onResponseError(this, error);
  };

  #end(): void {
    this.#done = true;
    try {
      this.#handler.onResponseEnd(this, trailerPairs(this.#trailers));
    } catch {
      // The handler failed writing downstream: nothing more can be told to it.
    }
  }

  /** The handler threw (a bug, or a response the downstream refused): the upstream stream is
   * reset and the handler hears it as an error, so no event listener throws into node. */
  #failed(error: unknown): void {
    this.#done = true;
    this.#unpipe();
    if (this.#stream && !this.#stream.destroyed) this.#stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    try {
      this.#handler.onResponseError(this, error instanceof Error ? error : new Error(String(error)));
    } catch {
      // Nothing left to tell.
    }
  }

  #unpipe(): void {
    (this.#options.body as BodySource | null)?.unread(this);
  }

  /** The request's headers for HTTP/2: pseudo-headers first, connection-specific ones
   * dropped, names lower-case; gRPC's `te: trailers` kept (proxies drop TE, gRPC needs it). */
  #headers(): string[] {
    const options = this.#options;
    const given = options.headers;
    const out: string[] = [':method', options.method, ':path', options.path, ':scheme', this.#scheme];
    let authority: string | undefined;
    let host: string | undefined;
    let grpc = false;
    for (let i = 0; i < given.length; i += 2) {
      const name = given[i] as string;
      const value = given[i + 1] as string;
      if (name.charCodeAt(0) === 58) {
        if (name === ':authority') authority = value;
        continue;
      }
      const lower = name.toLowerCase();
      if (CONNECTION_SPECIFIC.has(lower)) {
        if (lower === 'host') host = value;
        continue;
      }
      if (lower === 'content-type' && value.startsWith('application/grpc')) grpc = true;
      out.push(lower, value);
    }
    // An absolute-form request's host (set as Host by the caller) wins over :authority.
    const target = host ?? authority;
    if (target !== undefined) out.push(':authority', target);
    if (grpc) out.push('te', 'trailers');
    return out;
  }
}

/** HTTP/2 trailers (an object) as flat pairs, pseudo-headers left out. */
function trailerPairs(trailers: IncomingHttpHeaders | undefined): string[] {
  const pairs: string[] = [];
  if (trailers === undefined) return pairs;
  for (const name in trailers) {
    if (name.charCodeAt(0) === 58) continue;
    const value = trailers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) pairs.push(name, v);
    else pairs.push(name, value);
  }
  return pairs;
}
