// Retry policy and the decisions it implies, as pure functions: is this outcome of an
// attempt one the route retries, may this method be sent twice. The attempt loop that acts
// on them lives in outbound/outbound-request.ts; the budget in retry-budget.ts.
//
// Conditions nest as in Envoy's x-envoy-retry-on: "no response at all" (connect failure,
// reset, per-try timeout) is covered by reset, gateway-error and server-error (5xx);
// connect-failure covers only the connect failure. gRPC conditions read grpc-status from
// response headers, so only trailers-only answers can be retried: once a body has been
// sent downstream, nothing is retried.
import type { BackoffOptions } from './backoff.ts';

/** Bit flags, so a policy's conditions are one integer on the hot path. */
export const RETRY_ON = {
  'server-error': 1,
  'gateway-error': 2,
  reset: 4,
  'connect-failure': 8,
  'grpc-cancelled': 16,
  'grpc-deadline-exceeded': 32,
  'grpc-resource-exhausted': 64,
  'grpc-unavailable': 128,
} as const;

export type RetryCondition = keyof typeof RETRY_ON;

export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retries. */
  readonly maxRetries: number;
  /** Bound on one attempt until its response headers; 0: only the route timeout. */
  readonly perTryTimeoutMs: number;
  /** RETRY_ON flags. */
  readonly retryOn: number;
  readonly retriableStatusCodes: readonly number[];
  readonly backoff: BackoffOptions;
  readonly retryNonIdempotent: boolean;
  /** Bodies up to this size are buffered for replay; larger ones are not retried. */
  readonly maxRequestBytes: number;
}

/** How an attempt failed without a response. */
export type AttemptFailure = 'connect-failure' | 'reset' | 'timeout';

const NO_RESPONSE = RETRY_ON['server-error'] | RETRY_ON['gateway-error'] | RETRY_ON.reset;
const GRPC =
  RETRY_ON['grpc-cancelled'] | RETRY_ON['grpc-deadline-exceeded'] | RETRY_ON['grpc-resource-exhausted'] | RETRY_ON['grpc-unavailable'];
const GRPC_STATUS_FLAG: Readonly<Record<number, number>> = {
  1: RETRY_ON['grpc-cancelled'],
  4: RETRY_ON['grpc-deadline-exceeded'],
  8: RETRY_ON['grpc-resource-exhausted'],
  14: RETRY_ON['grpc-unavailable'],
};

/** Whether the policy retries an attempt that got no response. */
export function retriesFailure(policy: RetryPolicy, failure: AttemptFailure): boolean {
  if ((policy.retryOn & NO_RESPONSE) !== 0) return true;
  return failure === 'connect-failure' && (policy.retryOn & RETRY_ON['connect-failure']) !== 0;
}

/** Whether the policy retries a response with this status (and grpc-status, -1 when absent). */
export function retriesStatus(policy: RetryPolicy, status: number, grpcStatus: number): boolean {
  if (status >= 500) {
    if ((policy.retryOn & RETRY_ON['server-error']) !== 0) return true;
    if ((policy.retryOn & RETRY_ON['gateway-error']) !== 0 && status >= 502 && status <= 504) return true;
  }
  if (grpcStatus > 0 && ((GRPC_STATUS_FLAG[grpcStatus] ?? 0) & policy.retryOn) !== 0) return true;
  return policy.retriableStatusCodes.length > 0 && policy.retriableStatusCodes.includes(status);
}

/** Whether the policy looks at grpc-status at all (so the header is only read when needed). */
export function readsGrpcStatus(policy: RetryPolicy): boolean {
  return (policy.retryOn & GRPC) !== 0;
}

/** RFC 9110 §9.2.2: sending these twice has the effect of sending them once. */
export function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}

/**
 * Whether a request with this method may be sent again after `failure` (undefined: it got
 * a response). A connect failure is always safe: the request never left this sidecar.
 */
export function mayResend(policy: RetryPolicy, method: string, failure: AttemptFailure | undefined): boolean {
  return failure === 'connect-failure' || policy.retryNonIdempotent || isIdempotent(method);
}

export function retryConditionNames(flags: number): RetryCondition[] {
  return (Object.keys(RETRY_ON) as RetryCondition[]).filter((name) => (flags & RETRY_ON[name]) !== 0);
}
