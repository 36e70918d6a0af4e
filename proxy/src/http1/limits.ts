// Limits that protect the HTTP/1.1 listeners from clients: header size and count, URI
// length, keep-alive idle, slow headers (slowloris) and stalled bodies, body size. llhttp
// enforces the header size and refuses what is ambiguous in length (Content-Length with
// Transfer-Encoding, duplicate Content-Length, bad chunked framing) while parsing; the
// server connection (server-connection.ts) checks the rest and answers each breach with its
// status (431, 414, 408, 413, 400) and a log line naming the peer. Upgrades and tunnels are
// not limited here once established (tcp/splice.ts owns their idle timeout).

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
