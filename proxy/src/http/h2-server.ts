// The HTTP/2 side of the sidecar's listeners: a node:http2 server (no socket of its own:
// connections are handed to it, by the listeners' protocol detection or by ALPN) with the
// limits that protect the proxy. Requests reach the listener's handler as the HTTP/1.1
// codec's do: each stream adapted by h2-request.ts and h2-response.ts (node's compatibility
// request and response are not used: they cost about a fifth of a sidecar's CPU per request).
// What the compatibility layer did for every request is done here: CONNECT is refused (405:
// not served over HTTP/2), `Expect: 100-continue` is answered at once and any other
// expectation refused (417). Limits exceeded by a peer end its stream (RST_STREAM) or its
// connection (GOAWAY), with a log line.
import {
  constants,
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import { H2Request } from './h2-request.ts';
import { H2Response } from './h2-response.ts';

/** HTTP/2 settings and timeouts, the same for every listener and upstream session. */
export interface H2Limits {
  /** A connection without traffic this long is closed with GOAWAY; 0: never. */
  readonly idleTimeoutMs: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce: more streams at once are refused. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: how much of a stream's body the peer may send ahead. */
  readonly initialWindowSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: the largest header block we accept, in bytes. */
  readonly maxHeaderListSize: number;
}

export const DEFAULT_H2_LIMITS: H2Limits = {
  idleTimeoutMs: 300_000,
  maxConcurrentStreams: 1000,
  initialWindowSize: 1 << 20,
  maxHeaderListSize: 64 * 1024,
};

/** The connection-level window: enough for many streams' windows at once. */
export const CONNECTION_WINDOW_BYTES = 16 << 20;

type Handler = (req: ProxyRequest, res: ProxyResponse) => void;

/** Streams open on a server session (node keeps no count it shows). */
const ACTIVE = Symbol('weft.activeStreams');
type Counted = Http2Session & { [ACTIVE]?: number };

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** Sessions → the socket they were handed (node gives sessions a proxy of it, on which
 * WeakMap lookups by socket, such as interception's, would miss). */
const sockets = new WeakMap<Http2Session, Socket>();

/** The connection a stream came on: the socket itself, not HTTP/2's proxy of it. */
function connectionOf(stream: ServerHttp2Stream): Socket {
  const session = stream.session as Http2Session;
  return sockets.get(session) ?? (session.socket as Socket);
}

/** Answers a stream with a bare status and nothing else. */
function refuse(stream: ServerHttp2Stream, status: number): void {
  try {
    stream.respond({ ':status': status }, { endStream: true });
  } catch {
    stream.close(constants.NGHTTP2_REFUSED_STREAM);
  }
}

/** An HTTP/2 server for `handler`, the listener's (the one its HTTP/1.1 requests reach). */
export function createH2Server(limits: H2Limits, log: Logger, handler: Handler): Http2Server {
  const server = createServer({
    settings: {
      enablePush: false,
      // Streams beyond it are refused by nghttp2 (RST_STREAM REFUSED_STREAM), not queued.
      maxConcurrentStreams: limits.maxConcurrentStreams,
      initialWindowSize: limits.initialWindowSize,
      maxHeaderListSize: limits.maxHeaderListSize,
    },
  });
  const open = new Set<ServerHttp2Session>();
  sessionsOf.set(server, open);
  server.on('session', (session: ServerHttp2Session) => {
    open.add(session);
    session.once('close', () => open.delete(session));
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    } catch {
      // Already closing: nothing to tune.
    }
    if (limits.idleTimeoutMs > 0) {
      session.setTimeout(limits.idleTimeoutMs, () => {
        // Quiet is not idle while a stream is open (a long poll, a silent gRPC stream); the
        // timer starts again with the next frame.
        if (((session as Counted)[ACTIVE] ?? 0) > 0) return;
        log.debug({ peer: session.socket?.remoteAddress, idleMs: limits.idleTimeoutMs }, 'idle HTTP/2 connection closed (GOAWAY)');
        session.close();
      });
    }
    session.on('error', (error: Error) => {
      log.info({ peer: session.socket?.remoteAddress, error: error.message }, 'HTTP/2 connection failed');
    });
    session.on('frameError', (type: number, code: number, id: number) => {
      log.info({ peer: session.socket?.remoteAddress, frameType: type, code, stream: id }, 'HTTP/2 frame refused');
    });
    session.on('goaway', (code: number) => {
      if (code !== 0) log.info({ peer: session.socket?.remoteAddress, code }, 'HTTP/2 peer ended the connection with an error (GOAWAY)');
    });
  });
  const onStreamError = (error: Error) => {
    log.debug({ error: error.message }, 'HTTP/2 stream failed');
  };
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    stream.on('error', onStreamError);
    const session = stream.session as Counted;
    session[ACTIVE] = (session[ACTIVE] ?? 0) + 1;
    stream.once('close', () => {
      session[ACTIVE] = (session[ACTIVE] as number) - 1;
    });
    if (headers[':method'] === 'CONNECT') return refuse(stream, 405);
    const expect = headers.expect;
    if (expect !== undefined) {
      if (expect.toLowerCase() !== '100-continue') return refuse(stream, 417);
      try {
        stream.additionalHeaders({ ':status': 100 });
      } catch {
        return; // The stream is already gone: nothing to answer.
      }
    }
    handler(new H2Request(stream, headers, rawHeaders, connectionOf(stream)), new H2Response(stream, headers));
  });
  server.on('sessionError', (error: Error) => {
    log.info({ error: error.message }, 'HTTP/2 connection failed');
  });
  return server;
}

const sessionsOf = new WeakMap<Http2Server, Set<ServerHttp2Session>>();

/** Shutdown: idle connections get GOAWAY and streams in flight finish (`all`: every
 * connection is destroyed). */
export function closeH2Connections(h2: Http2Server, all: boolean): void {
  for (const session of sessionsOf.get(h2) ?? []) {
    if (all) session.destroy();
    else if (!session.closed) session.close();
  }
}

/**
 * Hands `socket` to the HTTP/2 server, with the bytes already read from it (`seen`, the
 * preface). The session reads the socket's handle directly, so bytes put back on the JS
 * stream (unshift) would never reach it: they are fed to the session's handle instead, its
 * `receive`, which node keeps for exactly this (node:http2 has no public way yet).
 */
export function handToH2(h2: Http2Server, socket: Socket, seen?: Buffer): void {
  // What the stream buffered after the detector stopped reading goes with the first bytes.
  const buffered = socket.read() as Buffer | null;
  if (buffered !== null && buffered.length > 0) seen = seen === undefined ? buffered : Buffer.concat([seen, buffered]);
  let made: Http2Session | undefined;
  const note = (session: Http2Session) => {
    made = session;
  };
  h2.prependOnceListener('session', note);
  h2.emit('connection', socket);
  h2.off('session', note);
  if (!made) return;
  sockets.set(made, socket);
  if (seen === undefined || seen.length === 0) return;
  const handle = nativeHandleOf(made);
  if (handle) handle.receive(seen);
  else made.destroy(new Error('this Node.js version cannot take over a connection whose first bytes were read'));
}

type NativeSession = { receive(data: Buffer): void };

function nativeHandleOf(session: Http2Session): NativeSession | undefined {
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === 'kHandle');
  const handle = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  return handle && typeof (handle as NativeSession).receive === 'function' ? (handle as NativeSession) : undefined;
}

/** Whether these first bytes can only be the HTTP/2 preface: 'yes', 'no', or 'more' bytes needed. */
export function isH2Preface(bytes: Buffer): 'yes' | 'no' | 'more' {
  const n = Math.min(bytes.length, PREFACE.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== PREFACE.charCodeAt(i)) return 'no';
  return n === PREFACE.length ? 'yes' : 'more';
}
