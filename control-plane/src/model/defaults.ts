// The defaults a sidecar gets for what users leave unsaid: one table, quoted in
// docs/resilience.md next to Envoy's and Linkerd's (and why ours differ). The control
// plane always sends effective values, so a sidecar never guesses.
import type { ConsistentHash, DestinationPolicySpec, RetryPolicy } from './resources.ts';

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

type Section<K extends Exclude<keyof DestinationPolicySpec, 'service' | 'subset'>> = NonNullable<DestinationPolicySpec[K]>;
type Filled<T> = { readonly [F in keyof T]-?: Exclude<T[F], undefined> };

/** Every field of a destination policy, filled (only the optional sub-sections may stay unset). */
export interface EffectiveDestinationPolicy {
  readonly loadBalancer: Filled<Omit<Section<'loadBalancer'>, 'consistentHash'>> & { readonly consistentHash: ConsistentHash | undefined };
  readonly connectionPool: Filled<Section<'connectionPool'>>;
  readonly circuitBreakers: Filled<Section<'circuitBreakers'>>;
  readonly outlierDetection: Filled<Omit<Section<'outlierDetection'>, 'successRate'>> & {
    readonly successRate: Section<'outlierDetection'>['successRate'];
  };
  readonly retryBudget: Filled<Section<'retryBudget'>>;
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
