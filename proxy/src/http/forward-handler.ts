// One attempt: streams an upstream response into the downstream response as the upstream's
// handler (upstream-exchange.ts), so no stream objects are built per request. Backpressure:
// a full downstream pauses the upstream read. Decisions belong to the owner (retry or not,
// which headers to add, what a failure means); this class only moves bytes and keeps the
// in-flight counters right.
//
// States: 'pending' — dispatched, waiting for a connection; 'started' — on a connection,
// no response yet; 'streaming' — response headers sent downstream (the attempt is
// committed: nothing can be retried now); 'settled' — the upstream is done with it.
// An attempt the owner gave up on (abort before it started, or a dropped response) is
// detached: the owner hears nothing more from it.
import type { CircuitBreaker } from '../cluster/circuit-breaker.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import type { ProxyResponse } from './exchange.ts';
import { forwardResponseHeaders, isNamed } from './headers.ts';
import type { UpstreamController, UpstreamHandler } from './upstream-exchange.ts';

export interface AttemptOwner {
  /**
   * Response headers arrived. Return header pairs to add to the response, or null to drop
   * this attempt (the owner retries); nothing has been sent downstream yet.
   */
  onAttemptResponse(attempt: ForwardHandler, status: number, headers: readonly string[]): readonly string[] | null;
  /** The attempt failed; `committed` when its response had already started downstream. */
  onAttemptError(attempt: ForwardHandler, error: unknown, committed: boolean): void;
  /** The whole response was sent downstream. */
  onAttemptEnd(attempt: ForwardHandler): void;
}

/** Why the owner cancelled an attempt; reasons are shared constants, so aborting allocates nothing. */
export class AttemptAbort extends Error {
  override readonly name = 'AttemptAbort';
}
export const DOWNSTREAM_GONE = new AttemptAbort('downstream disconnected');
export const PER_TRY_TIMEOUT = new AttemptAbort('per-try timeout');
export const ROUTE_TIMEOUT = new AttemptAbort('route timeout');
const DROPPED = new AttemptAbort('response dropped for a retry');

type State = 'pending' | 'started' | 'streaming' | 'settled';

export class ForwardHandler implements UpstreamHandler {
  readonly upstream: Upstream;
  /** Response body bytes written downstream by this attempt. */
  bytes = 0;
  /** grpc-status of the response's trailers ('' when none). */
  grpcStatus = '';
  readonly #owner: AttemptOwner;
  readonly #res: ProxyResponse;
  readonly #breaker: CircuitBreaker | undefined;
  #controller: UpstreamController | undefined;
  #state: State = 'pending';
  #detached: AttemptAbort | undefined;
  #resume: (() => void) | undefined;

  constructor(owner: AttemptOwner, res: ProxyResponse, upstream: Upstream, breaker?: CircuitBreaker) {
    this.#owner = owner;
    this.#res = res;
    this.upstream = upstream;
    this.#breaker = breaker;
    upstream.inflight += 1;
    upstream.pending += 1;
    if (breaker) {
      breaker.requests += 1;
      breaker.pending += 1;
    }
  }

  /** Whether the attempt reached a connection. */
  get started(): boolean {
    return this.#controller !== undefined;
  }

  /** Cancels the attempt. The owner hears about it through onAttemptError, at once. */
  abort(reason: AttemptAbort): void {
    if (this.#state === 'settled' || this.#detached) return;
    if (this.#controller) {
      this.#controller.abort(reason);
      return;
    }
    // Still waiting for a connection: taken out of the pool's queue, or (HTTP/2, still
    // connecting) detached and cancelled when it starts.
    if (this.upstream.pool.cancel(this)) this.#settle();
    this.#detached = reason;
    this.#owner.onAttemptError(this, reason, false);
  }

  onRequestStart(controller: UpstreamController): void {
    this.#leavePending();
    if (this.#detached) {
      controller.abort(this.#detached);
      return;
    }
    this.#controller = controller;
    this.#state = 'started';
  }

  onResponseStart(controller: UpstreamController, status: number, raw: readonly string[], reason: string): void {
    if (this.#detached) return;
    const extra = this.#owner.onAttemptResponse(this, status, raw);
    if (extra === null) {
      this.#detached = DROPPED;
      controller.abort(DROPPED);
      return;
    }
    const headers = forwardResponseHeaders(raw);
    for (let i = 0; i < extra.length; i++) headers.push(extra[i] as string);
    this.#state = 'streaming';
    this.#res.head(status, headers, reason);
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    if (this.#detached) return;
    this.bytes += chunk.length;
    if (!this.#res.data(chunk)) {
      controller.pause();
      this.#resume ??= () => this.#controller?.resume();
      this.#res.onDrain(this.#resume);
    }
  }

  onResponseEnd(_controller: UpstreamController, trailers: readonly string[]): void {
    this.#settle();
    if (this.#detached) return;
    // Trailers go on as trailers (gRPC's status lives there).
    for (let i = 0; i + 1 < trailers.length; i += 2) {
      const name = trailers[i] as string;
      if (isNamed(name, 'grpc-status')) this.grpcStatus = trailers[i + 1] as string;
    }
    this.#res.finish(undefined, trailers);
    this.#owner.onAttemptEnd(this);
  }

  onResponseError(_controller: UpstreamController, error: Error): void {
    const committed = this.#state === 'streaming';
    this.#settle();
    if (this.#detached) return;
    this.#detached = error instanceof AttemptAbort ? error : DROPPED;
    this.#owner.onAttemptError(this, error, committed);
  }

  #leavePending(): void {
    if (this.#state !== 'pending') return;
    this.upstream.pending -= 1;
    if (this.#breaker) this.#breaker.pending -= 1;
  }

  #settle(): void {
    if (this.#state === 'settled') return;
    this.#leavePending();
    this.#state = 'settled';
    this.upstream.inflight -= 1;
    if (this.#breaker) this.#breaker.requests -= 1;
  }
}
