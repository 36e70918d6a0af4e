// One attempt: streams an upstream response into the downstream ServerResponse as an undici
// dispatch handler, so no intermediate stream objects are built per request
// (stream.pipeline() halves throughput). Backpressure: a full downstream pauses the
// upstream read. Decisions belong to the owner (retry or not, which headers to add, what a
// failure means); this class only moves bytes and keeps the in-flight counters right.
//
// States: 'pending' — dispatched, waiting for a connection; 'started' — on a connection,
// no response yet; 'streaming' — response headers sent downstream (the attempt is
// committed: nothing can be retried now); 'settled' — undici is done with it.
// An attempt the owner gave up on (abort before it started, or a dropped response) is
// detached: undici still finishes it later, but the owner hears nothing more.
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { CircuitBreaker } from '../cluster/circuit-breaker.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import { forwardResponseHeaders } from './headers.ts';

export interface AttemptOwner {
  /** The attempt got a connection and is about to send the request (and read its body). */
  onAttemptStart(attempt: ForwardHandler): void;
  /**
   * Response headers arrived. Return header pairs to add to the response, or null to drop
   * this attempt (the owner retries); nothing has been sent downstream yet.
   */
  onAttemptResponse(attempt: ForwardHandler, status: number, rawHeaders: readonly (Buffer | string)[]): readonly string[] | null;
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

export class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly upstream: Upstream;
  /** Response body bytes written downstream by this attempt. */
  bytes = 0;
  /** grpc-status of the response's trailers ('' when none). */
  grpcStatus = '';
  readonly #owner: AttemptOwner;
  readonly #res: ServerResponse;
  readonly #breaker: CircuitBreaker | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #state: State = 'pending';
  #detached: AttemptAbort | undefined;
  #resume: (() => void) | undefined;

  constructor(owner: AttemptOwner, res: ServerResponse, upstream: Upstream, breaker?: CircuitBreaker) {
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
    // Still queued for a connection: undici cannot take it back, so detach it and cancel it
    // when it starts.
    this.#detached = reason;
    this.#owner.onAttemptError(this, reason, false);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#leavePending();
    if (this.#detached) {
      controller.abort(this.#detached);
      return;
    }
    this.#controller = controller;
    this.#state = 'started';
    this.#owner.onAttemptStart(this);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    if (this.#detached) return;
    const raw = (controller.rawHeaders ?? []) as (Buffer | string)[];
    const extra = this.#owner.onAttemptResponse(this, statusCode, raw);
    if (extra === null) {
      this.#detached = DROPPED;
      controller.abort(DROPPED);
      return;
    }
    const headers = forwardResponseHeaders(raw);
    for (let i = 0; i < extra.length; i++) headers.push(extra[i] as string);
    this.#state = 'streaming';
    if (statusMessage) this.#res.writeHead(statusCode, statusMessage, headers);
    else this.#res.writeHead(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#detached) return;
    this.bytes += chunk.length;
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#resume ??= () => this.#controller?.resume();
      this.#res.once('drain', this.#resume);
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers?: Record<string, string | string[] | undefined>): void {
    this.#settle();
    if (this.#detached) return;
    // Trailers go on as trailers (gRPC's status lives there). undici's HTTP/1.1 gives them
    // raw, as received; HTTP/2 (upstream/h2-sessions.ts) as an object, where no keys is "none".
    const raw = controller.rawTrailers as (Buffer | string)[] | null | undefined;
    if (raw && raw.length > 0) {
      const pairs = trailerPairs(raw);
      for (const [name, value] of pairs) if (name.toLowerCase() === 'grpc-status') this.grpcStatus = value;
      this.#res.addTrailers(pairs);
    } else {
      for (const _ in trailers) {
        const status = (trailers as Record<string, unknown>)['grpc-status'];
        if (status !== undefined) this.grpcStatus = String(status);
        this.#res.addTrailers(trailers as Record<string, string>);
        break;
      }
    }
    this.#res.end();
    this.#owner.onAttemptEnd(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
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

function trailerPairs(raw: readonly (Buffer | string)[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([String(raw[i]), String(raw[i + 1])]);
  return pairs;
}
