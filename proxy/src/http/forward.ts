// Sends one request to one upstream and streams the answer back, with no retries or load
// balancing: the inbound side's terminal step (the local app), and the outbound side's for
// intercepted requests bound outside the mesh (outbound/passthrough.ts). Mesh requests run
// their attempts through outbound/outbound-request.ts on the same ForwardHandler. HTTP/2
// (`h2`: by default when the request came over HTTP/2) goes through the upstream's HTTP/2
// sessions, HTTP/1.1 through its pool.
import type { Upstream } from '../upstream/upstream-pools.ts';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import { type AttemptOwner, DOWNSTREAM_GONE, ForwardHandler } from './forward-handler.ts';
import { grpcStatusHeader } from './grpc.ts';
import { classifyUpstreamError, DOWNSTREAM_DISCONNECT, RESPONSE_FLAG } from './proxy-error.ts';
import type { Outcome, OutcomeListener } from './request-outcome.ts';
import { noteProxyError, sendProxyError } from './synthetic-response.ts';

export interface ForwardRequest {
  readonly path: string;
  readonly headers: string[];
}

const NO_HEADERS: readonly string[] = [];

export function forward(
  req: ProxyRequest,
  res: ProxyResponse,
  upstream: Upstream,
  request: ForwardRequest,
  outcome: Outcome,
  onDone: OutcomeListener,
  h2: boolean = req.httpVersionMajor === 2,
): void {
  const exchange = new SingleForward(res, outcome, onDone, h2);
  const attempt = new ForwardHandler(exchange, res, upstream);
  exchange.attempt = attempt;
  outcome.attempts = 1;
  outcome.upstreamAddress = upstream.address;
  const upstreamRequest = { method: req.method, path: request.path, headers: request.headers, body: req.body ?? null };
  if (h2) upstream.h2.dispatch(upstreamRequest, attempt);
  else upstream.pool.dispatch(upstreamRequest, attempt);
}

class SingleForward implements AttemptOwner {
  attempt: ForwardHandler | undefined;
  readonly #res: ProxyResponse;
  readonly #outcome: Outcome;
  readonly #onDone: OutcomeListener;
  readonly #h2: boolean;
  #done = false;

  constructor(res: ProxyResponse, outcome: Outcome, onDone: OutcomeListener, h2: boolean) {
    this.#h2 = h2;
    this.#res = res;
    this.#outcome = outcome;
    this.#onDone = onDone;
    res.onClose(this.#onDownstreamClose);
  }

  onAttemptResponse(_attempt: ForwardHandler, status: number, headers: readonly string[]): readonly string[] {
    const outcome = this.#outcome;
    outcome.status = status;
    if (this.#h2) outcome.grpcStatus = grpcStatusHeader(headers);
    // Dispatched on arrival: the upstream's time is the time to the response.
    outcome.upstreamMs = performance.now() - outcome.startMs;
    outcome.responseStartMs = outcome.upstreamMs;
    return NO_HEADERS;
  }

  onAttemptError(attempt: ForwardHandler, error: unknown): void {
    const outcome = this.#outcome;
    outcome.responseBytes = attempt.bytes;
    if (error === DOWNSTREAM_GONE) {
      outcome.addFlag(DOWNSTREAM_DISCONNECT);
    } else {
      const proxyError = classifyUpstreamError(error, attempt.upstream.address);
      outcome.addFlag(RESPONSE_FLAG[proxyError.kind]);
      if (!this.#res.headersSent) noteProxyError(outcome, this.#res, proxyError);
      outcome.responseBytes += sendProxyError(this.#res, proxyError);
    }
    this.#finish();
  }

  onAttemptEnd(attempt: ForwardHandler): void {
    this.#outcome.responseBytes = attempt.bytes;
    if (attempt.grpcStatus !== '') this.#outcome.grpcStatus = attempt.grpcStatus;
    this.#finish();
  }

  readonly #onDownstreamClose = (): void => {
    if (this.#done || this.#res.done) return;
    this.attempt?.abort(DOWNSTREAM_GONE);
  };

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#res.offClose(this.#onDownstreamClose);
    this.#outcome.end(performance.now());
    this.#onDone(this.#outcome);
  }
}
