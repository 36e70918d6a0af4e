// What the request path sees of a request and of the response it sends, whichever codec
// carried them: the sidecar's own HTTP/1.1 codec (http1/) or node:http2's server streams
// (h2-server.ts adapts them). Routing, retries, authorization, telemetry and the
// synthetic answers are written against these two interfaces, never against a codec.
import type { Socket } from 'node:net';
import type { BodySource } from './body.ts';

export interface ProxyRequest {
  readonly method: string;
  /** The request-target as sent: origin form ("/p?q"), absolute form ("http://h/p"), or
   * host:port for CONNECT. */
  readonly url: string;
  /** 1 or 2. */
  readonly httpVersionMajor: number;
  /** Header fields as received, [name, value, ...], names in their case (HTTP/2: with its
   * pseudo-header fields). */
  readonly rawHeaders: readonly string[];
  /** The same as an object with lower-case names, built on first use (header matchers). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The connection it came on: the TCP or TLS socket itself (for HTTP/2, the session's). */
  readonly connection: Socket;
  /** The body, when the framing says one follows. */
  readonly body: BodySource | undefined;
}

/** Called when a response's downstream goes away, or when it can take more data. */
export type ResponseListener = () => void;

export interface ProxyResponse {
  /** The status line (HTTP/2: HEADERS) has gone out: nothing can replace it now. */
  readonly headersSent: boolean;
  /** The connection (HTTP/2: the stream) is gone. */
  readonly destroyed: boolean;
  /** The whole response has been handed to the connection. */
  readonly done: boolean;
  /** A gRPC call: the proxy's own failures are answered with gRPC statuses. */
  readonly grpc: boolean;
  /** HTTP/1.1: the connection is closed after this response (the request's body may not
   * have been read to its end). No effect on HTTP/2. */
  closeAfter(): void;
  /** Sends the head. `reason`: the status line's text ('' for the standard one). */
  head(status: number, headers: readonly string[], reason?: string): void;
  /** A chunk of the body; false when the downstream is full (wait for onDrain). */
  data(chunk: Buffer): boolean;
  /** Ends the response, with a last chunk and trailer fields ([name, value, ...]) if given. */
  finish(chunk?: Buffer | string, trailers?: readonly string[]): void;
  /** Cuts the response short: the client must not take it for complete. */
  reset(): void;
  /** `listener` runs once when the downstream goes away (HTTP/2: when the stream closes,
   * which is after a finished response too: listeners check `done`). */
  onClose(listener: ResponseListener): void;
  offClose(listener: ResponseListener): void;
  /** `listener` runs once when the downstream can take more data. */
  onDrain(listener: ResponseListener): void;
}
