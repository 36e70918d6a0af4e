// One upstream cluster: its hosts and everything that decides which of them gets an
// attempt — load balancer, outlier detector, circuit breaker — plus its retry budget.
// Long-lived: config updates change it in place, so in-flight counters, ejections and the
// budget's window survive them; only what a change touches is rebuilt.
import type { Logger } from 'pino';
import { RetryBudget, type RetryBudgetSpec } from '../resilience/retry-budget.ts';
import type { UpstreamPoolOptions, UpstreamPools } from '../upstream/upstream-pools.ts';
import { CircuitBreaker, type CircuitBreakerLimits } from './circuit-breaker.ts';
import { Host } from './host.ts';
import { createLoadBalancer, type LbPolicy, type LoadBalancer } from './load-balancer.ts';
import { type OutlierDetectionSpec, OutlierDetector, type OutlierEvent } from './outlier-detector.ts';

export type HashKey =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs: number; readonly path: string };

export interface ConnectionPoolSpec {
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Per endpoint; 0: no cap, for each field. */
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequestsPerConnection: number;
}

export interface ClusterSpec {
  readonly name: string;
  readonly service: string;
  readonly namespace: string;
  readonly lbPolicy: LbPolicy;
  /** Set exactly when lbPolicy is ring-hash. */
  readonly hashKey: HashKey | undefined;
  /** 0 disables panic mode. */
  readonly panicThresholdPercent: number;
  readonly pool: ConnectionPoolSpec;
  readonly circuitBreakers: CircuitBreakerLimits;
  readonly outlierDetection: OutlierDetectionSpec | undefined;
  readonly retryBudget: RetryBudgetSpec | undefined;
}

export interface EndpointSpec {
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeId: string;
  readonly weight: number;
  /** SPIFFE ID the endpoint must prove over mTLS; empty for plaintext (mtls: disabled). */
  readonly identity: string;
}

export class Cluster {
  readonly name: string;
  #spec: ClusterSpec;
  #hosts: readonly Host[] = [];
  #lb: LoadBalancer;
  readonly breaker: CircuitBreaker;
  readonly outlier: OutlierDetector;
  #budget: RetryBudget | undefined;
  readonly #pools: UpstreamPools;
  readonly #log: Logger;

  constructor(spec: ClusterSpec, pools: UpstreamPools, log: Logger) {
    this.name = spec.name;
    this.#spec = spec;
    this.#pools = pools;
    this.#log = log.child({ cluster: spec.name });
    this.breaker = new CircuitBreaker(spec.circuitBreakers, spec.pool.maxPendingRequests);
    this.outlier = new OutlierDetector(spec.outlierDetection, this.#onOutlierEvent);
    this.#budget = spec.retryBudget ? new RetryBudget(spec.retryBudget) : undefined;
    this.#lb = this.#buildLb();
  }

  get spec(): ClusterSpec {
    return this.#spec;
  }

  get hosts(): readonly Host[] {
    return this.#hosts;
  }

  get lb(): LoadBalancer {
    return this.#lb;
  }

  get budget(): RetryBudget | undefined {
    return this.#budget;
  }

  /** Applies a changed spec, rebuilding only what it touches. */
  update(spec: ClusterSpec): void {
    const previous = this.#spec;
    this.#spec = spec;
    this.breaker.limits = spec.circuitBreakers;
    this.breaker.endpointMaxPending = spec.pool.maxPendingRequests;
    if (!sameJson(previous.retryBudget, spec.retryBudget)) this.#budget = spec.retryBudget ? new RetryBudget(spec.retryBudget) : undefined;
    if (!sameJson(previous.outlierDetection, spec.outlierDetection)) {
      this.outlier.configure(spec.outlierDetection);
      if (this.#hosts.length > 0) this.outlier.start();
    }
    if (!sameJson(previous.pool, spec.pool)) {
      // New pool settings mean new pools: hosts are rebuilt (their health starts afresh).
      this.setEndpoints(this.#hosts.slice(), true);
      return;
    }
    if (
      previous.lbPolicy !== spec.lbPolicy ||
      previous.panicThresholdPercent !== spec.panicThresholdPercent ||
      !sameJson(previous.hashKey, spec.hashKey)
    ) {
      this.#lb = this.#buildLb();
    }
  }

  /** Replaces the endpoints; hosts whose address stays keep their state and pool. */
  setEndpoints(endpoints: readonly EndpointSpec[], rebuildAll = false): void {
    const old = new Map(this.#hosts.map((h) => [h.address, h]));
    const next: Host[] = [];
    for (const endpoint of endpoints) {
      const kept = rebuildAll ? undefined : old.get(endpoint.address);
      if (
        kept &&
        sameJson(kept.labels, endpoint.labels) &&
        kept.nodeId === endpoint.nodeId &&
        kept.weight === endpoint.weight &&
        kept.identity === endpoint.identity
      ) {
        next.push(kept);
        old.delete(endpoint.address);
      } else {
        next.push(new Host(endpoint, this.#pools.acquire(endpoint.address, endpoint.identity, this.#poolOptions())));
      }
    }
    this.#hosts = next;
    this.outlier.setHosts(next);
    this.#lb = this.#buildLb();
    for (const gone of old.values()) this.#pools.release(gone.upstream);
    if (next.length > 0) this.outlier.start();
    else this.outlier.stop();
  }

  close(): void {
    this.outlier.stop();
    for (const host of this.#hosts) this.#pools.release(host.upstream);
    this.#hosts = [];
    this.outlier.setHosts([]);
  }

  /** What /clusters shows. */
  snapshot(): Record<string, unknown> {
    const budget = this.#budget?.window;
    return {
      name: this.name,
      lbPolicy: this.#spec.lbPolicy,
      circuitBreakers: {
        ...this.#spec.circuitBreakers,
        requests: this.breaker.requests,
        pending: this.breaker.pending,
        retries: this.breaker.retries,
        overflows: this.breaker.overflows,
      },
      retryBudget: this.#spec.retryBudget ? { ...this.#spec.retryBudget, window: budget } : null,
      ejected: this.outlier.ejectedCount,
      hosts: this.#hosts.map((h) => ({
        address: h.address,
        nodeId: h.nodeId,
        labels: h.labels,
        ejected: h.health.ejected,
        ejections: h.health.ejections,
        inflight: h.upstream.inflight,
        connections: h.upstream.connections,
        consecutive5xx: h.health.consecutive5xx,
        consecutiveGatewayErrors: h.health.consecutiveGateway,
      })),
    };
  }

  #poolOptions(): UpstreamPoolOptions {
    const pool = this.#spec.pool;
    return {
      connectTimeoutMs: pool.connectTimeoutMs,
      keepAliveTimeoutMs: pool.idleTimeoutMs,
      maxConnections: pool.maxConnections,
      maxRequestsPerConnection: pool.maxRequestsPerConnection,
      mesh: true,
    };
  }

  #buildLb(): LoadBalancer {
    const outlier = this.outlier;
    return createLoadBalancer(this.#spec.lbPolicy, {
      hosts: this.#hosts,
      ejectedCount: () => outlier.ejectedCount,
      panicThresholdPercent: this.#spec.panicThresholdPercent,
    });
  }

  readonly #onOutlierEvent = (event: OutlierEvent): void => {
    if (event.kind === 'ejected')
      this.#log.warn({ endpoint: event.host, reason: event.reason, forMs: event.forMs, ejections: event.ejections }, 'endpoint ejected');
    else if (event.kind === 'returned') this.#log.info({ endpoint: event.host }, 'endpoint returned from ejection');
    else
      this.#log.info(
        { endpoint: event.host, reason: event.reason, ejected: event.ejected },
        'ejection skipped: max ejection percent reached',
      );
  };
}

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
