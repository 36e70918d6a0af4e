// Requests on intercepted connections that name no mesh host or endpoint go on to where the
// app sent them, in plaintext and as the app sent them (only hop-by-hop headers change, as
// re-framing HTTP/1.1 requires): Envoy's PassthroughCluster. One keep-alive pool per
// destination, released once it has been idle for a sweep. Non-HTTP bytes are not handled
// here (interception.ts pipes them).
import type { OriginalDestination } from '@weft/original-dst';
import type { ProxyRequest, ProxyResponse } from '../http/exchange.ts';
import { forward } from '../http/forward.ts';
import { passThroughRequestHeaders } from '../http/headers.ts';
import type { Outcome, OutcomeListener } from '../http/request-outcome.ts';
import type { RequestTarget } from '../http/request-target.ts';
import type { Upstream, UpstreamPoolOptions, UpstreamPools } from '../upstream/upstream-pools.ts';

/** The cluster name outcomes carry for passed-through requests (Envoy's is PassthroughCluster). */
export const PASSTHROUGH_CLUSTER = 'passthrough';

/** Destinations outside the mesh are not ours to tune: Envoy's default connect timeout. */
const POOL: UpstreamPoolOptions = { connectTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000 };
const SWEEP_MS = 30_000;
/** Above this many destinations, idle pools are released at once rather than at the next sweep. */
const MAX_POOLS = 256;

export class PassthroughUpstreams {
  readonly #pools: UpstreamPools;
  readonly #byAddress = new Map<string, Upstream>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(pools: UpstreamPools) {
    this.#pools = pools;
    this.#sweeper = setInterval(() => this.#releaseIdle(), SWEEP_MS);
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#byAddress.size;
  }

  forward(
    req: ProxyRequest,
    res: ProxyResponse,
    target: RequestTarget,
    destination: OriginalDestination,
    outcome: Outcome,
    done: OutcomeListener,
  ): void {
    outcome.cluster = PASSTHROUGH_CLUSTER;
    const headers = passThroughRequestHeaders(req.rawHeaders, target.absolute ? target.host : undefined);
    forward(req, res, this.#upstream(addressOf(destination)), { path: target.path, headers }, outcome, done);
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const upstream of this.#byAddress.values()) this.#pools.release(upstream);
    this.#byAddress.clear();
  }

  #upstream(address: string): Upstream {
    let upstream = this.#byAddress.get(address);
    if (!upstream) {
      if (this.#byAddress.size >= MAX_POOLS) this.#releaseIdle();
      upstream = this.#pools.acquire(address, '', POOL);
      this.#byAddress.set(address, upstream);
    }
    return upstream;
  }

  #releaseIdle(): void {
    for (const [address, upstream] of this.#byAddress) {
      if (upstream.inflight > 0 || upstream.connections > 0) continue;
      this.#byAddress.delete(address);
      this.#pools.release(upstream);
    }
  }
}

export function addressOf(destination: OriginalDestination): string {
  return destination.family === 6 ? `[${destination.address}]:${destination.port}` : `${destination.address}:${destination.port}`;
}
