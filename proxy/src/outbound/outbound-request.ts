// One request on the outbound path, from the matched route to the last response byte. The
// layers read top to bottom: the route's retry policy opens attempts under the
// destination's retry budget; each attempt runs under the per-try timeout (or what is left
// of the route's), asks the load balancer for a host anew (skipping ejected hosts and those
// this request already tried), passes the circuit breaker and is dispatched through
// http/forward-handler.ts. Results are reported per host to the outlier detector.
//
// Retries never happen once response bytes went downstream, only for idempotent methods
// (connect failures excepted: the request never left) unless the route says otherwise, and
// only when the body could be replayed (resilience/replay-body.ts). A client that leaves
// cancels the attempt in flight or the backoff wait: no orphaned work.
//
// HTTP/2 requests take the same path; only the last step differs (the endpoint's HTTP/2
// sessions instead of its HTTP/1.1 pool). A gRPC request's grpc-timeout caps the route
// deadline, and each attempt carries what is left of it.
//
// Hot path: a request whose route has no timeout and whose policy never retries allocates
// this object, its Outcome and one ForwardHandler, and starts no timer.
import { randomUUID } from 'node:crypto';
import type { Cluster, HashKey } from '../cluster/cluster.ts';
import type { Host } from '../cluster/host.ts';
import { hash32 } from '../cluster/ring-hash.ts';
import type { BodySource } from '../http/body.ts';
import type { ProxyRequest, ProxyResponse } from '../http/exchange.ts';
import { type AttemptOwner, DOWNSTREAM_GONE, ForwardHandler, PER_TRY_TIMEOUT, ROUTE_TIMEOUT } from '../http/forward-handler.ts';
import { formatGrpcTimeout, grpcStatusHeader } from '../http/grpc.ts';
import { rawHeader } from '../http/headers.ts';
import { classifyUpstreamError, DOWNSTREAM_DISCONNECT, type ProxyError, RESPONSE_FLAG, RETRY_LIMIT_EXCEEDED } from '../http/proxy-error.ts';
import type { Outcome, OutcomeListener, RetryDenied } from '../http/request-outcome.ts';
import { ATTEMPTS_HEADER, noteProxyError, RESPONSE_FLAGS_HEADER, sendProxyError } from '../http/synthetic-response.ts';
import type { UpstreamRequest } from '../http/upstream-exchange.ts';
import { fullJitterDelayMs } from '../resilience/backoff.ts';
import { ReplayBody } from '../resilience/replay-body.ts';
import {
  type AttemptFailure,
  isIdempotent,
  mayResend,
  type RetryPolicy,
  readsGrpcStatus,
  retriesFailure,
  retriesStatus,
} from '../resilience/retry.ts';
import { attemptTimer, remainingMs, type TimerKind } from '../resilience/timeout.ts';
import type { Route } from '../routing/route-table.ts';
import { attempted } from '../telemetry/telemetry.ts';

export class OutboundRequest implements AttemptOwner {
  readonly outcome: Outcome;
  readonly #req: ProxyRequest;
  readonly #res: ProxyResponse;
  readonly #route: Route;
  readonly #cluster: Cluster;
  readonly #policy: RetryPolicy | undefined;
  readonly #request: UpstreamRequest;
  /** The request's body as it arrives (undefined: none). */
  readonly #source: BodySource | undefined;
  /** A copy for retries, when the policy may resend the body. */
  readonly #body: ReplayBody | undefined;
  readonly #onDone: OutcomeListener;
  /** Whether attempts go over HTTP/2 (the request came over HTTP/2). */
  readonly #h2: boolean;
  /** The request's grpc-timeout in ms (0: none), and where its value sits in the forwarded
   * headers (-1: none), rewritten per attempt with the time left. */
  readonly #grpcTimeoutMs: number;
  #grpcTimeoutAt = -1;
  #deadlineIsGrpc = false;
  readonly #grpcRetries: boolean;
  #hash = -1;
  #setCookie: string | undefined;
  #deadlineAt = 0;
  #attempt: ForwardHandler | undefined;
  #host: Host | undefined;
  #tried: Host[] | undefined;
  #attemptStartMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerKind: TimerKind = 'route';
  #retryHeld = false;
  #denied: RetryDenied = '';
  #done = false;

  constructor(
    req: ProxyRequest,
    res: ProxyResponse,
    route: Route,
    cluster: Cluster,
    request: {
      readonly path: string;
      readonly headers: string[];
      readonly h2?: boolean;
      readonly grpcTimeoutMs?: number;
      /** A gRPC call (content-type application/grpc…). */
      readonly grpc?: boolean;
    },
    outcome: Outcome,
    onDone: OutcomeListener,
  ) {
    this.#req = req;
    this.#res = res;
    this.#route = route;
    this.#cluster = cluster;
    this.outcome = outcome;
    this.#onDone = onDone;
    this.#h2 = request.h2 === true;
    this.#grpcTimeoutMs = request.grpcTimeoutMs ?? 0;
    if (this.#grpcTimeoutMs > 0) {
      const headers = request.headers;
      for (let i = 0; i < headers.length; i += 2) if ((headers[i] as string).toLowerCase() === 'grpc-timeout') this.#grpcTimeoutAt = i + 1;
    }
    const policy = route.retry !== undefined && route.retry.maxRetries > 0 ? route.retry : undefined;
    this.#policy = policy;
    // gRPC calls are all POSTs: a route that retries on gRPC statuses says its calls may be
    // sent again (as Envoy's retry_on does), whatever the method.
    this.#grpcRetries = request.grpc === true && policy !== undefined && readsGrpcStatus(policy);
    this.#source = req.body;
    if (req.body !== undefined && policy) {
      // Only bodies that could be resent are copied; a POST without retryNonIdempotent
      // is retried only after a connect failure, when the body itself is still unread.
      const copy = policy.retryNonIdempotent || isIdempotent(outcome.method) || this.#grpcRetries ? policy.maxRequestBytes : 0;
      this.#body = new ReplayBody(req.body, copy);
    }
    this.#request = { method: outcome.method, path: request.path, headers: request.headers, body: null };
  }

  start(): void {
    const cluster = this.#cluster;
    const now = this.outcome.startMs;
    if (this.#route.timeoutMs > 0) this.#deadlineAt = now + this.#route.timeoutMs;
    const grpcMs = this.#grpcTimeoutMs;
    if (grpcMs > 0 && (this.#deadlineAt === 0 || grpcMs < this.#route.timeoutMs)) {
      this.#deadlineAt = now + grpcMs;
      this.#deadlineIsGrpc = true;
    }
    cluster.budget?.deposit();
    const key = cluster.spec.hashKey;
    if (key) this.#hash = this.#hashOf(key);
    this.#res.onClose(this.#onDownstreamClose);
    this.#dispatch(now);
  }

  // --- AttemptOwner ---

  onAttemptResponse(attempt: ForwardHandler, status: number, rawHeaders: readonly string[]): readonly string[] | null {
    if (attempt !== this.#attempt) return null;
    const host = this.#host as Host;
    // A peer sidecar's own 502/503/504 says what happened beyond it: its app refused the
    // connection (the request never reached it), reset, or timed out. A gRPC call's is a
    // 200 with the flags, which the outlier detector hears as the 503 it stands for.
    const peerFailure = (status >= 502 && status <= 504) || this.#h2 ? peerFailureOf(rawHeaders) : undefined;
    this.#cluster.outlier.reportStatus(host, peerFailure !== undefined && status === 200 ? 503 : status);
    const policy = this.#policy;
    if (policy) {
      if (peerFailure !== undefined ? retriesFailure(policy, peerFailure) : false) {
        if (this.#retry(peerFailure)) return null;
      } else if (retriesStatus(policy, status, readsGrpcStatus(policy) ? grpcStatusOf(rawHeaders) : -1)) {
        if (this.#retry(undefined)) return null;
      }
    }
    const now = performance.now();
    this.outcome.status = status;
    if (this.#h2) this.outcome.grpcStatus = grpcStatusHeader(rawHeaders);
    this.outcome.upstreamMs = now - this.#attemptStartMs;
    this.outcome.responseStartMs = now - this.outcome.startMs;
    this.#releaseRetry();
    // The response is committed: the per-try bound is over, the route deadline still runs.
    if (this.#timerKind === 'per-try') {
      this.#clearTimer();
      if (this.#deadlineAt > 0) this.#arm('route', Math.max(this.#deadlineAt - now, 0));
    }
    if (this.#denied !== '') this.outcome.addFlag(RETRY_LIMIT_EXCEEDED);
    const extra = [ATTEMPTS_HEADER, String(this.outcome.attempts)];
    if (this.outcome.flags !== '') extra.push(RESPONSE_FLAGS_HEADER, this.outcome.flags);
    if (this.#setCookie) extra.push('set-cookie', this.#setCookie);
    return extra;
  }

  onAttemptError(attempt: ForwardHandler, error: unknown, committed: boolean): void {
    if (attempt !== this.#attempt) return;
    this.#attempt = undefined;
    if (committed) this.outcome.responseBytes = attempt.bytes;
    this.#clearTimer();
    const host = this.#host as Host;
    if (error === DOWNSTREAM_GONE) {
      this.#finish(DOWNSTREAM_DISCONNECT);
      return;
    }
    let proxyError: ProxyError;
    let failure: AttemptFailure;
    if (error === ROUTE_TIMEOUT || error === PER_TRY_TIMEOUT) {
      proxyError = this.#timeoutError(error === ROUTE_TIMEOUT ? 'route' : 'per-try', host.address);
      failure = 'timeout';
    } else {
      proxyError = classifyUpstreamError(error, host.address);
      failure =
        proxyError.kind === 'upstream-connect-failure' ? 'connect-failure' : proxyError.kind === 'upstream-timeout' ? 'timeout' : 'reset';
    }
    // A response cut short by the route deadline says nothing new about the host.
    if (!(committed && error === ROUTE_TIMEOUT)) this.#cluster.outlier.reportFailure(host);
    if (!committed && error !== ROUTE_TIMEOUT && this.#policy && retriesFailure(this.#policy, failure) && this.#retry(failure)) return;
    this.#fail(proxyError);
  }

  onAttemptEnd(attempt: ForwardHandler): void {
    if (attempt !== this.#attempt) return;
    this.#attempt = undefined;
    this.outcome.responseBytes = attempt.bytes;
    if (attempt.grpcStatus !== '') this.outcome.grpcStatus = attempt.grpcStatus;
    this.#finish('');
  }

  // --- attempts ---

  #dispatch(now: number): void {
    const cluster = this.#cluster;
    const host = cluster.lb.pick(this.#hash, this.#tried);
    if (!host) {
      this.#fail({ kind: 'no-healthy-upstream', cluster: cluster.name });
      return;
    }
    const overflow = cluster.breaker.admit(host.upstream, cluster.hosts);
    if (overflow) {
      // On a retry, the previous answer is gone (dropped or failed): the refusal is the answer.
      if (this.outcome.attempts > 0) this.#denied = 'overflow';
      this.#fail({ kind: 'overflow', cluster: cluster.name, limit: overflow });
      return;
    }
    let request = this.#request;
    if (this.#source !== undefined) request = { ...request, body: this.#body ? (this.#body.next() ?? null) : this.#source };
    const attempt = new ForwardHandler(this, this.#res, host.upstream, cluster.breaker);
    this.#attempt = attempt;
    this.#host = host;
    this.outcome.attempts += 1;
    this.outcome.upstreamAddress = host.address;
    if (this.outcome.telemetry !== undefined) attempted(this.outcome.telemetry, host);
    this.#attemptStartMs = now;
    const timer = attemptTimer(now, this.#deadlineAt, this.#policy?.perTryTimeoutMs ?? 0);
    if (timer) this.#arm(timer.kind, timer.ms);
    // The app gets the time left (the first attempt's share of it, when per-try is shorter).
    if (this.#grpcTimeoutAt >= 0)
      (this.#request.headers as string[])[this.#grpcTimeoutAt] = formatGrpcTimeout(timer ? timer.ms : this.#deadlineAt - now);
    if (this.#h2) host.upstream.h2.dispatch(request, attempt);
    else host.upstream.pool.dispatch(request, attempt);
  }

  /** Schedules the next attempt if everything allows it; false (recording why) otherwise. */
  #retry(failure: AttemptFailure | undefined): boolean {
    const policy = this.#policy as RetryPolicy;
    const cluster = this.#cluster;
    this.#releaseRetry();
    if (!this.#grpcRetries && !mayResend(policy, this.outcome.method, failure)) return false;
    if (this.#source !== undefined && !(this.#body?.replayable ?? false)) return false;
    if (this.outcome.attempts > policy.maxRetries) {
      this.#denied = 'attempts';
      return false;
    }
    const now = performance.now();
    const remaining = remainingMs(now, this.#deadlineAt);
    if (remaining <= 0) return false;
    if (!cluster.breaker.tryRetry()) {
      this.#denied = 'overflow';
      return false;
    }
    if (cluster.budget && !cluster.budget.tryWithdraw()) {
      cluster.breaker.releaseRetry();
      this.#denied = 'budget';
      return false;
    }
    this.#retryHeld = true;
    this.#denied = '';
    this.#attempt = undefined;
    if (this.#host) {
      this.#tried ??= [];
      this.#tried.push(this.#host);
    }
    const delay = fullJitterDelayMs(this.outcome.attempts, policy.backoff, Math.random);
    // A backoff that outlasts the deadline just waits for the deadline.
    if (delay >= remaining) this.#arm('route', remaining);
    else this.#arm('backoff', delay);
    return true;
  }

  // --- timers: at most one per request, and none unless configured ---

  #arm(kind: TimerKind, ms: number): void {
    this.#clearTimer();
    this.#timerKind = kind;
    this.#timer = setTimeout(OutboundRequest.#fire, ms, this);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  static #fire(self: OutboundRequest): void {
    self.#timer = undefined;
    if (self.#done) return;
    const attempt = self.#attempt;
    switch (self.#timerKind) {
      case 'backoff':
        self.#dispatch(performance.now());
        return;
      case 'per-try':
        attempt?.abort(PER_TRY_TIMEOUT);
        return;
      case 'route':
        if (attempt) attempt.abort(ROUTE_TIMEOUT);
        else self.#fail(self.#timeoutError('route', self.#host?.address ?? ''));
        return;
    }
  }

  // --- endings ---

  readonly #onDownstreamClose = (): void => {
    if (this.#done || this.#res.done) return;
    if (this.#attempt) this.#attempt.abort(DOWNSTREAM_GONE);
    else this.#finish(DOWNSTREAM_DISCONNECT);
  };

  #fail(error: ProxyError): void {
    if (this.#done) return;
    let flags = RESPONSE_FLAG[error.kind];
    if (this.#denied !== '') flags = `${flags},${RETRY_LIMIT_EXCEEDED}`;
    this.outcome.flags = flags;
    if (!this.#res.headersSent) {
      noteProxyError(this.outcome, this.#res, error);
      // The rest of an unread body would be taken for the next request: this connection
      // cannot be reused.
      if (this.#source !== undefined && !this.#source.complete) this.#res.closeAfter();
    }
    this.outcome.responseBytes += sendProxyError(this.#res, error, flags, this.outcome.attempts);
    this.#finish('');
  }

  #finish(flag: string): void {
    if (this.#done) return;
    this.#done = true;
    if (flag !== '') this.outcome.addFlag(flag);
    this.#clearTimer();
    this.#releaseRetry();
    this.#res.offClose(this.#onDownstreamClose);
    this.outcome.retryDenied = this.#denied;
    this.outcome.end(performance.now());
    this.#onDone(this.outcome);
  }

  #timeoutError(phase: 'route' | 'per-try', upstream: string): ProxyError {
    if (phase === 'per-try') return { kind: 'upstream-timeout', upstream, timeoutMs: (this.#policy as RetryPolicy).perTryTimeoutMs, phase };
    if (this.#deadlineIsGrpc) return { kind: 'upstream-timeout', upstream, timeoutMs: this.#grpcTimeoutMs, phase: 'grpc-timeout' };
    return { kind: 'upstream-timeout', upstream, timeoutMs: this.#route.timeoutMs, phase };
  }

  #releaseRetry(): void {
    if (!this.#retryHeld) return;
    this.#retryHeld = false;
    this.#cluster.breaker.releaseRetry();
  }

  /** The request's consistent-hash key, hashed; -1 when it has none. */
  #hashOf(key: HashKey): number {
    const raw = this.#req.rawHeaders;
    if (key.kind === 'header') {
      const value = rawHeader(raw, key.name);
      return value === undefined ? -1 : hash32(value);
    }
    const value = cookieValue(rawHeader(raw, 'cookie'), key.name);
    if (value !== undefined) return hash32(value);
    if (key.ttlMs <= 0) return -1;
    // No cookie yet: make one up and hand it to the client, so its next requests stick.
    const made = randomUUID();
    this.#setCookie = `${key.name}=${made}; Path=${key.path}; Max-Age=${Math.floor(key.ttlMs / 1000)}; HttpOnly`;
    return hash32(made);
  }
}

/** The failure a peer sidecar's synthetic response reports in its response flags, if any. */
function peerFailureOf(raw: readonly string[]): AttemptFailure | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== RESPONSE_FLAGS_HEADER.length || name.toLowerCase() !== RESPONSE_FLAGS_HEADER) continue;
    const first = (raw[i + 1] as string).split(',')[0];
    if (first === RESPONSE_FLAG['upstream-connect-failure']) return 'connect-failure';
    if (first === RESPONSE_FLAG['upstream-reset']) return 'reset';
    if (first === RESPONSE_FLAG['upstream-timeout']) return 'timeout';
    return undefined;
  }
  return undefined;
}

/** grpc-status from raw response headers (trailers-only responses carry it there); -1 if absent. */
function grpcStatusOf(raw: readonly string[]): number {
  const code = Number.parseInt(grpcStatusHeader(raw), 10);
  return Number.isNaN(code) ? -1 : code;
}

/** The value of cookie `name` in a Cookie header (RFC 6265 §5.4: "a=1; b=2"). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
