// Circuit breaking for one cluster (Envoy's thresholds): counts what is in flight to the
// cluster and refuses a new attempt at once, rather than queueing it, when a limit would be
// passed. A refused first attempt becomes 503 UO; a refused retry is simply not made.
//
// - maxRequests: attempts in flight across the cluster's endpoints.
// - maxPendingRequests: attempts waiting for a connection (no idle one on their endpoint).
// - maxConnections: open connections across the endpoints; an attempt that would need a
//   new connection beyond it is refused (Envoy would queue it; we answer at once).
// - maxRetries: retries in flight (from the retry decision, through its backoff, to the
//   end of the retried attempt).
// Per-endpoint pool limits (connection pool settings) are checked here too, so every
// refusal has one place and one flag.
import type { Upstream } from '../upstream/upstream-pools.ts';

export interface CircuitBreakerLimits {
  /** 0 means no limit, for each field. */
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

export type Overflow = 'max-requests' | 'max-pending-requests' | 'max-connections' | 'endpoint-max-pending-requests';

export const NO_LIMITS: CircuitBreakerLimits = { maxConnections: 0, maxPendingRequests: 0, maxRequests: 0, maxRetries: 0 };

export class CircuitBreaker {
  limits: CircuitBreakerLimits;
  /** Per-endpoint queue bound from the connection pool settings; 0: none. */
  endpointMaxPending: number;
  /** Attempts in flight, including those waiting for a connection. */
  requests = 0;
  /** Attempts waiting for a connection. */
  pending = 0;
  /** Retries in flight. */
  retries = 0;
  /** Refusals since start, by limit (for /clusters). */
  readonly overflows: Record<Overflow | 'max-retries', number> = {
    'max-requests': 0,
    'max-pending-requests': 0,
    'max-connections': 0,
    'endpoint-max-pending-requests': 0,
    'max-retries': 0,
  };

  constructor(limits: CircuitBreakerLimits = NO_LIMITS, endpointMaxPending = 0) {
    this.limits = limits;
    this.endpointMaxPending = endpointMaxPending;
  }

  /**
   * Whether one more attempt on `upstream` fits; the overflowed limit otherwise.
   * `hosts` (the cluster's) are summed only when a new connection would be needed under maxConnections.
   */
  admit(upstream: Upstream, hosts: readonly { readonly upstream: Upstream }[]): Overflow | undefined {
    const limits = this.limits;
    let overflow: Overflow | undefined;
    if (limits.maxRequests > 0 && this.requests >= limits.maxRequests) overflow = 'max-requests';
    else if (upstream.saturated) {
      if (limits.maxPendingRequests > 0 && this.pending >= limits.maxPendingRequests) overflow = 'max-pending-requests';
      else if (this.endpointMaxPending > 0 && upstream.pending >= this.endpointMaxPending) overflow = 'endpoint-max-pending-requests';
      else if (limits.maxConnections > 0 && (upstream.maxConnections === 0 || upstream.connections < upstream.maxConnections)) {
        let open = 0;
        for (const h of hosts) open += h.upstream.connections;
        if (open >= limits.maxConnections) overflow = 'max-connections';
      }
    }
    if (overflow) this.overflows[overflow] += 1;
    return overflow;
  }

  /** Takes a retry slot; false (and counted) when maxRetries retries are in flight. */
  tryRetry(): boolean {
    if (this.limits.maxRetries > 0 && this.retries >= this.limits.maxRetries) {
      this.overflows['max-retries'] += 1;
      return false;
    }
    this.retries += 1;
    return true;
  }

  releaseRetry(): void {
    this.retries -= 1;
  }
}
