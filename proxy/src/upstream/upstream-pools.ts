// One keep-alive connection pool per upstream (an endpoint's inbound listener with the
// identity it must prove, or the local app) and pool settings, shared by every cluster
// that contains it with the same settings. Pools are counted by reference: when no cluster
// lists an upstream any more its pool closes, after in-flight requests finish. Mesh
// upstreams connect over mTLS (tls/client-tls.ts); the local app and mtls: disabled
// services in plaintext. The counters here are what load balancing and circuit breaking read.
// HTTP/1.1 goes through the sidecar's own keep-alive pool (http1/client-pool.ts); HTTP/2
// through a few multiplexed sessions (h2-sessions.ts), made on first use. A connection to a
// peer sidecar (`mesh`) says who is calling once, with its first request (x-weft-source):
// the peer's telemetry keeps it for the connection, so requests do not carry it each.
import type { Credentials } from '@weft/certs';
import { DEFAULT_H2_LIMITS, type H2Limits } from '../http/h2-server.ts';
import { Http1Pool } from '../http1/client-pool.ts';
import { mtlsConnector, plainConnector } from '../tls/client-tls.ts';
import { mtlsH2Connection } from '../tls/client-tls-h2.ts';
import { H2Sessions } from './h2-sessions.ts';

export interface UpstreamPoolOptions {
  readonly connectTimeoutMs: number;
  /** Idle time after which a pooled connection is closed. */
  readonly keepAliveTimeoutMs: number;
  /** Connections to this address; further requests queue in the pool. 0: no cap. */
  readonly maxConnections?: number;
  /** A connection is closed after this many requests. 0: no cap. */
  readonly maxRequestsPerConnection?: number;
  /** The upstream is a peer sidecar (a cluster's endpoint): each connection says, once, who
   * is calling (the pools' connectionHeaders). Not the local app, not a passthrough host. */
  readonly mesh?: boolean;
}

/** A pooled upstream and what is happening on it right now. */
export class Upstream {
  readonly address: string;
  /** The SPIFFE ID the upstream must prove; empty for plaintext. */
  readonly identity: string;
  readonly key: string;
  readonly pool: Http1Pool;
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  /** Requests dispatched and not finished (least-request reads it). */
  inflight = 0;
  /** Of those, the ones still waiting for a connection. */
  pending = 0;
  /** Open connections. */
  connections = 0;
  refs = 0;
  readonly #options: UpstreamPoolOptions;
  readonly #credentials: Credentials | undefined;
  readonly #h2Limits: H2Limits;
  readonly #connectionHeaders: readonly string[];
  #h2: H2Sessions | undefined;

  constructor(
    address: string,
    identity: string,
    key: string,
    options: UpstreamPoolOptions,
    credentials: Credentials | undefined,
    h2Limits: H2Limits = DEFAULT_H2_LIMITS,
    connectionHeaders: readonly string[] = [],
  ) {
    this.#options = options;
    this.#credentials = credentials;
    this.#h2Limits = h2Limits;
    this.#connectionHeaders = options.mesh === true ? connectionHeaders : [];
    this.address = address;
    this.identity = identity;
    this.key = key;
    this.maxConnections = options.maxConnections ?? 0;
    if (identity && !credentials) throw new Error(`upstream ${address} needs mTLS but this sidecar has no credentials`);
    this.connectTimeoutMs = options.connectTimeoutMs;
    // Timeouts are the route's business (resilience layer), not the pool's: a long-lived
    // stream must not be cut by a default.
    this.pool = new Http1Pool({
      connect:
        identity && credentials
          ? mtlsConnector(credentials, identity, address, options.connectTimeoutMs)
          : plainConnector(address, options.connectTimeoutMs),
      keepAliveTimeoutMs: options.keepAliveTimeoutMs,
      maxConnections: this.maxConnections,
      maxRequestsPerConnection: options.maxRequestsPerConnection ?? 0,
      onConnections: (delta) => {
        this.connections += delta;
      },
      connectionHeaders: this.#connectionHeaders,
    });
  }

  /** HTTP/2 to this upstream (mTLS with ALPN h2 when it has an identity, else h2c). */
  get h2(): H2Sessions {
    this.#h2 ??= new H2Sessions({
      address: this.address,
      tls: this.identity && this.#credentials ? mtlsH2Connection(this.#credentials, this.identity, this.address) : undefined,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      limits: { ...this.#h2Limits, idleTimeoutMs: this.#options.keepAliveTimeoutMs },
      onConnections: (delta) => {
        this.connections += delta;
      },
      connectionHeaders: this.#connectionHeaders,
    });
    return this.#h2;
  }

  /** Closes both pools gracefully: requests in flight finish. */
  close(): Promise<void> {
    this.#h2?.close();
    return this.pool.close();
  }

  /** True when a new request on this upstream would wait for a connection rather than take an idle one. */
  get saturated(): boolean {
    return this.inflight >= this.connections;
  }
}

export class UpstreamPools {
  readonly #byKey = new Map<string, Upstream>();
  readonly #defaults: UpstreamPoolOptions;
  readonly #credentials: Credentials | undefined;
  readonly #h2Limits: H2Limits;
  readonly #connectionHeaders: readonly string[];

  /** `credentials`: this workload's certificate and trust bundle, for upstreams with an
   * identity. `connectionHeaders`: what every connection to a peer sidecar (`mesh`) sends
   * once, with its first request. */
  constructor(
    defaults: UpstreamPoolOptions & {
      readonly credentials?: Credentials;
      readonly h2Limits?: H2Limits;
      readonly connectionHeaders?: readonly string[];
    },
  ) {
    const { credentials, h2Limits, connectionHeaders, ...rest } = defaults;
    this.#defaults = rest;
    this.#credentials = credentials;
    this.#h2Limits = h2Limits ?? DEFAULT_H2_LIMITS;
    this.#connectionHeaders = connectionHeaders ?? [];
  }

  get defaults(): UpstreamPoolOptions {
    return this.#defaults;
  }

  /** Takes a reference on the pool for `address` (proving `identity`) with these settings,
   * creating it if needed. */
  acquire(address: string, identity = '', options: UpstreamPoolOptions = this.#defaults): Upstream {
    const key = `${address}|${identity}|${options.connectTimeoutMs}|${options.keepAliveTimeoutMs}|${options.maxConnections ?? 0}|${options.maxRequestsPerConnection ?? 0}|${options.mesh === true}`;
    let upstream = this.#byKey.get(key);
    if (!upstream) {
      upstream = new Upstream(address, identity, key, options, this.#credentials, this.#h2Limits, this.#connectionHeaders);
      this.#byKey.set(key, upstream);
    }
    upstream.refs += 1;
    return upstream;
  }

  /** Drops a reference; the last one closes the pool gracefully. */
  release(upstream: Upstream): void {
    upstream.refs -= 1;
    if (upstream.refs > 0) return;
    if (this.#byKey.get(upstream.key) === upstream) this.#byKey.delete(upstream.key);
    void upstream.close();
  }

  get size(): number {
    return this.#byKey.size;
  }

  async close(): Promise<void> {
    const pools = [...this.#byKey.values()];
    this.#byKey.clear();
    await Promise.all(pools.map((u) => u.close()));
  }
}
