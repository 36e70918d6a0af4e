// The defaults a sidecar gets for what users leave unsaid: one table, quoted in
// docs/resilience.md next to Envoy's and Linkerd's (and why ours differ). The control
// plane always sends effective values, so a sidecar never guesses.
import type { RetryPolicy } from './resources.ts';

/** A rule without `retries`: what is provably safe to send again, under the budget. */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 2,
  perTryTimeoutMs: 0,
  retryOn: ['connect-failure', 'reset'],
  retriableStatusCodes: [],
  backoff: { baseMs: 25, maxMs: 250 },
  retryNonIdempotent: false,
  maxRequestBytes: 64 * 1024,
};

/** Every field of a destination policy, filled. */
export interface EffectiveDestinationPolicy {
  readonly loadBalancer: {
    readonly policy: 'least-request' | 'round-robin' | 'consistent-hash';
    readonly consistentHash:
      | { readonly header: string }
      | { readonly cookie: { readonly name: string; readonly ttlMs: number; readonly path: string } }
      | undefined;
    readonly panicThreshold: number;
  };
  readonly connectionPool: {
    readonly connectTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maxConnections: number;
    readonly maxPendingRequests: number;
    readonly maxRequestsPerConnection: number;
  };
  readonly circuitBreakers: {
    readonly maxConnections: number;
    readonly maxPendingRequests: number;
    readonly maxRequests: number;
    readonly maxRetries: number;
  };
  readonly outlierDetection: {
    readonly consecutive5xx: number;
    readonly consecutiveGatewayErrors: number;
    readonly intervalMs: number;
    readonly baseEjectionTimeMs: number;
    readonly maxEjectionTimeMs: number;
    readonly maxEjectionPercent: number;
    readonly successRate: { readonly minimumHosts: number; readonly requestVolume: number; readonly stdevFactor: number } | undefined;
  };
  readonly retryBudget: { readonly percent: number; readonly minRetriesPerSecond: number; readonly ttlMs: number };
}

export const DEFAULT_DESTINATION_POLICY: EffectiveDestinationPolicy = {
  loadBalancer: { policy: 'least-request', consistentHash: undefined, panicThreshold: 50 },
  connectionPool: { connectTimeoutMs: 1000, idleTimeoutMs: 60_000, maxConnections: 0, maxPendingRequests: 0, maxRequestsPerConnection: 0 },
  circuitBreakers: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 0 },
  outlierDetection: {
    consecutive5xx: 0,
    consecutiveGatewayErrors: 5,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionPercent: 50,
    successRate: undefined,
  },
  retryBudget: { percent: 20, minRetriesPerSecond: 10, ttlMs: 10_000 },
};
