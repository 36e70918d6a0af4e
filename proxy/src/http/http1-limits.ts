// Limits that protect the HTTP/1.1 listeners from clients: header size and count, URI
// length, keep-alive idle, slow headers (slowloris) and stalled bodies, body size. node:http
// and llhttp enforce most of them while parsing; this file sets them, answers what the
// parser refuses (clientError) with the right status and a log line naming the peer, and
// adds the checks the parser lacks (URI length below the header limit, body size). Requests
// ambiguous in length (Content-Length with Transfer-Encoding, duplicate Content-Length, bad
// chunked framing) are parse errors: 400, never forwarded. Upgrades and tunnels are not
// limited here once they are established (tcp/tunnel.ts owns their idle timeout).
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface Http1Limits {
  /** Request line and headers together, in bytes (llhttp's limit; 431 beyond it). */
  readonly maxHeaderBytes: number;
  /** Header fields per request (431 beyond it). */
  readonly maxHeaders: number;
  /** Request-target length (414 beyond it; a longer one than maxHeaderBytes is a 431). */
  readonly maxUriBytes: number;
  /** From a request's first byte to the end of its headers (408 after it). */
  readonly headersTimeoutMs: number;
  /** A keep-alive connection with no request in flight is closed after this. */
  readonly idleTimeoutMs: number;
  /** No byte either way on a connection with a request in flight (a stalled body: 408 if
   * no response has started, else the connection is closed). 0: none. */
  readonly streamIdleTimeoutMs: number;
  /** Request body bytes (413 beyond it). 0: no limit. */
  readonly maxRequestBytes: number;
}

/** Ours, with Envoy's equivalents (docs/config.md compares them). */
export const DEFAULT_HTTP1_LIMITS: Http1Limits = {
  maxHeaderBytes: 60 * 1024, // Envoy max_request_headers_kb: 60
  maxHeaders: 100, // Envoy max_headers_count: 100
  maxUriBytes: 16 * 1024, // Envoy: within the 60 KiB header limit
  headersTimeoutMs: 30_000, // Envoy request_headers_timeout: off
  // Longer than the upstream pools' idle timeout (60 s), so the client side closes first
  // and never sends on a connection we are closing.
  idleTimeoutMs: 75_000, // Envoy idle_timeout: 1 h
  streamIdleTimeoutMs: 300_000, // Envoy stream_idle_timeout: 5 min
  maxRequestBytes: 0, // Envoy: none unless a buffering filter sets one
};

/** node:http server options for these limits. */
export function http1ServerOptions(limits: Http1Limits): ServerOptions {
  return {
    // Node's default cuts any request after 5 minutes; streams may live longer. Route
    // timeouts and the stream idle timeout bound requests instead.
    requestTimeout: 0,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    // How often node:http checks the headers timeout; its default (30 s) would let a
    // slowloris client hold a connection up to 30 s past the limit.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

const REASON: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};

/**
 * Applies the limits node:http enforces to `server` and answers what it refuses. Call once,
 * right after creating the server.
 */
export function enforceHttp1Limits(server: Server, limits: Http1Limits, log: Logger): void {
  // Node answers a request over the count with a parse error (HPE_HEADER_OVERFLOW).
  server.maxHeadersCount = limits.maxHeaders;
  server.on('clientError', (error: NodeJS.ErrnoException & { reason?: string }, socket: Socket) => {
    const code = error.code ?? '';
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = error.reason ?? error.message;
    log.warn({ peer: socket.remoteAddress, port: socket.remotePort, code, reason, status }, 'request refused by the HTTP/1.1 codec');
    // A response already on its way cannot be replaced: just close.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    refuseOnSocket(socket, status, code === 'HPE_HEADER_OVERFLOW' ? 'request headers too large or too many' : reason);
  });
  if (limits.streamIdleTimeoutMs > 0) {
    server.setTimeout(limits.streamIdleTimeoutMs, (socket: Socket) => {
      const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (res && !res.headersSent && !res.req.complete) {
        log.warn(
          { peer: socket.remoteAddress, port: socket.remotePort, timeoutMs: limits.streamIdleTimeoutMs, status: 408 },
          'request body stalled: stream idle timeout',
        );
        res.shouldKeepAlive = false;
        res.writeHead(408, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end('weft: request body stalled (stream idle timeout)\n');
        return;
      }
      log.debug({ peer: socket.remoteAddress, timeoutMs: limits.streamIdleTimeoutMs }, 'connection idle: stream idle timeout');
      socket.destroy();
    });
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The checks node:http does not make, before `handler` sees the request: URI length and
 * (when configured) body size, by Content-Length up front and by counting a chunked body.
 */
export function withHttp1Limits(limits: Http1Limits, log: Logger, handler: Handler): Handler {
  const maxUri = limits.maxUriBytes;
  const maxBody = limits.maxRequestBytes;
  return (req, res) => {
    if ((req.url as string).length > maxUri) {
      refuse(req, res, 414, `request target longer than ${maxUri} bytes`, log);
      return;
    }
    if (maxBody > 0) {
      const length = req.headers['content-length'];
      if (length !== undefined) {
        if (Number(length) > maxBody) {
          refuse(req, res, 413, `request body of ${length} bytes exceeds the limit of ${maxBody}`, log);
          return;
        }
      } else if (req.headers['transfer-encoding'] !== undefined) {
        countBody(req, res, maxBody, log);
      }
    }
    handler(req, res);
  };
}

/** A chunked body is counted as the parser delivers it; past the limit the rest is
 * dropped, the client gets 413 if nothing was answered yet, and the connection closes. */
function countBody(req: IncomingMessage, res: ServerResponse, maxBody: number, log: Logger): void {
  let seen = 0;
  const push = req.push;
  req.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return seen > maxBody ? false : push.call(this, chunk, encoding);
    if (seen > maxBody) return false;
    seen += (chunk as Buffer).length;
    if (seen <= maxBody) return push.call(this, chunk, encoding);
    if (res.headersSent) res.destroy();
    else refuse(req, res, 413, `chunked request body exceeds the limit of ${maxBody} bytes`, log);
    return false;
  };
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string, log: Logger): void {
  const socket = req.socket;
  log.warn(
    { peer: socket.remoteAddress, port: socket.remotePort, method: req.method, status, reason: message },
    'request refused: limit exceeded',
  );
  const body = `weft: ${message}\n`;
  res.shouldKeepAlive = false;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
  // Unread body bytes would be parsed as the next request: the connection ends with this answer.
  res.once('finish', () => socket.destroySoon());
}

function refuseOnSocket(socket: Socket, status: number, message: string): void {
  const body = `weft: ${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASON[status] ?? 'Bad Request'}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
