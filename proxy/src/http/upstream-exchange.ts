// The contract between one attempt (http/forward-handler.ts) and whatever carries it to an
// upstream: an HTTP/1.1 connection pool (http1/client-pool.ts) or HTTP/2 sessions
// (upstream/h2-sessions.ts). Shaped after undici's dispatch handler (onRequestStart …
// onResponseEnd, a controller to abort, pause and resume), without undici.
import type { Duplex } from 'node:stream';
import type { BodySource } from './body.ts';

export interface UpstreamRequest {
  readonly method: string;
  /** Origin form: "/path?query". */
  readonly path: string;
  /** [name, value, ...], Host included; no framing headers (the carrier adds them). */
  readonly headers: readonly string[];
  readonly body: BodySource | null;
  /** An Upgrade request (WebSocket): a 101 answer goes to onUpgrade with the connection. */
  readonly upgrade?: boolean;
}

export interface UpstreamController {
  /** Cancels the exchange; the handler hears onResponseError(reason) at once. */
  abort(reason: Error): void;
  /** Stops delivering response data until resume(). */
  pause(): void;
  resume(): void;
}

/** The controller of an exchange that never reached a connection: nothing to abort. */
export const NOT_STARTED: UpstreamController = { abort() {}, pause() {}, resume() {} };

export interface UpstreamHandler {
  /** On a connection: the request is being sent (and its body read). */
  onRequestStart(controller: UpstreamController): void;
  /** The final response head ([name, value, ...]; informational 1xx are not passed on). */
  onResponseStart(controller: UpstreamController, status: number, headers: readonly string[], reason: string): void;
  onResponseData(controller: UpstreamController, chunk: Buffer): void;
  /** The response is complete; trailer fields, [name, value, ...], empty when none. */
  onResponseEnd(controller: UpstreamController, trailers: readonly string[]): void;
  /** The exchange failed: before a response (connect, reset, refused) or in the middle of one. */
  onResponseError(controller: UpstreamController, error: Error): void;
  /** An Upgrade request answered 101: the connection is the handler's from now on; `head`
   * holds bytes that came after the 101. Only for requests sent with `upgrade`. */
  onUpgrade?(status: number, headers: readonly string[], socket: Duplex, head: Buffer): void;
}

export interface UpstreamDispatcher {
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void;
}
