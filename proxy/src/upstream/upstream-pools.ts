// One keep-alive connection pool per upstream (an endpoint's inbound listener with the
// identity it must prove, or the local app), shared by every cluster that contains it.
// Pools are counted by reference: when no cluster lists an upstream any more its pool
// closes, after in-flight requests finish. Mesh upstreams connect over mTLS
// (tls/client-tls.ts); the local app and mtls: disabled services in plaintext.
import type { Credentials } from '@weft/certs';
import { Pool } from 'undici';
import { mtlsConnector } from '../tls/client-tls.ts';

export interface UpstreamPoolOptions {
  readonly connectTimeoutMs: number;
  /** Idle time after which a pooled connection is closed. */
  readonly keepAliveTimeoutMs: number;
  /** This workload's certificate and trust bundle, for upstreams with an identity. */
  readonly credentials?: Credentials;
}

/** A pooled upstream and the number of requests in flight on it (for least-request). */
export class Upstream {
  readonly address: string;
  /** The SPIFFE ID the upstream must prove; empty for plaintext. */
  readonly identity: string;
  readonly pool: Pool;
  inflight = 0;
  refs = 0;

  constructor(address: string, identity: string, options: UpstreamPoolOptions) {
    this.address = address;
    this.identity = identity;
    if (identity && !options.credentials) throw new Error(`upstream ${address} needs mTLS but this sidecar has no credentials`);
    this.pool = new Pool(`http://${address}`, {
      connect:
        identity && options.credentials
          ? mtlsConnector(options.credentials, identity, options.connectTimeoutMs)
          : { timeout: options.connectTimeoutMs },
      keepAliveTimeout: options.keepAliveTimeoutMs,
      keepAliveMaxTimeout: options.keepAliveTimeoutMs,
      // Timeouts are the route's business (resilience layer), not the pool's: a
      // long-lived stream must not be cut by a default.
      headersTimeout: 0,
      bodyTimeout: 0,
      pipelining: 1,
    });
  }
}

export class UpstreamPools {
  readonly #byAddress = new Map<string, Upstream>();
  readonly #options: UpstreamPoolOptions;

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
  }

  /** Takes a reference on the pool for `address` (proving `identity`), creating it if needed. */
  acquire(address: string, identity = ''): Upstream {
    const key = identity ? `${address} ${identity}` : address;
    let upstream = this.#byAddress.get(key);
    if (!upstream) {
      upstream = new Upstream(address, identity, this.#options);
      this.#byAddress.set(key, upstream);
    }
    upstream.refs += 1;
    return upstream;
  }

  /** Drops a reference; the last one closes the pool gracefully. */
  release(upstream: Upstream): void {
    upstream.refs -= 1;
    if (upstream.refs > 0) return;
    const key = upstream.identity ? `${upstream.address} ${upstream.identity}` : upstream.address;
    if (this.#byAddress.get(key) === upstream) this.#byAddress.delete(key);
    upstream.pool.close().catch(() => {});
  }

  get size(): number {
    return this.#byAddress.size;
  }

  async close(): Promise<void> {
    const pools = [...this.#byAddress.values()];
    this.#byAddress.clear();
    await Promise.all(pools.map((u) => u.pool.close().catch(() => {})));
  }
}
