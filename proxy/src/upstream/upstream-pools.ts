// One keep-alive connection pool per upstream address (an endpoint's inbound listener, or
// the local app), shared by every cluster that contains the address. Pools are counted by
// reference: when no cluster lists an address any more its pool closes, after in-flight
// requests finish.
import { Pool } from 'undici';

export interface UpstreamPoolOptions {
  readonly connectTimeoutMs: number;
  /** Idle time after which a pooled connection is closed. */
  readonly keepAliveTimeoutMs: number;
}

/** A pooled upstream and the number of requests in flight on it (for least-request). */
export class Upstream {
  readonly address: string;
  readonly pool: Pool;
  inflight = 0;
  refs = 0;

  constructor(address: string, options: UpstreamPoolOptions) {
    this.address = address;
    this.pool = new Pool(`http://${address}`, {
      connect: { timeout: options.connectTimeoutMs },
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

  /** Takes a reference on the pool for `address`, creating it if needed. */
  acquire(address: string): Upstream {
    let upstream = this.#byAddress.get(address);
    if (!upstream) {
      upstream = new Upstream(address, this.#options);
      this.#byAddress.set(address, upstream);
    }
    upstream.refs += 1;
    return upstream;
  }

  /** Drops a reference; the last one closes the pool gracefully. */
  release(upstream: Upstream): void {
    upstream.refs -= 1;
    if (upstream.refs > 0) return;
    if (this.#byAddress.get(upstream.address) === upstream) this.#byAddress.delete(upstream.address);
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
