// Clusters by name, with their endpoints and load balancers. Clusters and endpoints
// arrive as separate resource types; each update replaces one of them atomically, and a
// request that already picked a cluster keeps the object it picked.
//
// A cluster dropped by a cluster update but still named by the current routes is kept
// until the routes stop naming it: the control plane sends clusters before routes, so
// in between, requests on the old routes must still find their cluster.
import type { UpstreamPools } from '../upstream/upstream-pools.ts';
import { createLoadBalancer, type Endpoint, type LbPolicy, type LoadBalancer } from './load-balancer.ts';

export interface ClusterSpec {
  readonly name: string;
  readonly service: string;
  readonly namespace: string;
  readonly lbPolicy: LbPolicy;
  readonly connectTimeoutMs: number;
}

export interface EndpointSpec {
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeId: string;
  readonly weight: number;
  /** SPIFFE ID the endpoint must prove over mTLS; empty for plaintext (mtls: disabled). */
  readonly identity: string;
}

export interface Cluster {
  readonly spec: ClusterSpec;
  readonly endpoints: readonly Endpoint[];
  readonly lb: LoadBalancer;
}

export class ClusterManager {
  readonly #pools: UpstreamPools;
  #clusters = new Map<string, Cluster>();
  /** Names in the latest cluster update. */
  #wanted = new Set<string>();
  /** Latest endpoints by cluster name (endpoints may arrive for clusters kept alive). */
  #endpointSpecs = new Map<string, readonly EndpointSpec[]>();
  #referenced: ReadonlySet<string> = new Set();

  constructor(pools: UpstreamPools) {
    this.#pools = pools;
  }

  get(name: string): Cluster | undefined {
    return this.#clusters.get(name);
  }

  all(): IterableIterator<Cluster> {
    return this.#clusters.values();
  }

  setClusters(specs: readonly ClusterSpec[]): void {
    this.#wanted = new Set(specs.map((s) => s.name));
    const next = new Map<string, Cluster>();
    for (const spec of specs) {
      const previous = this.#clusters.get(spec.name);
      if (previous && sameSpec(previous.spec, spec)) next.set(spec.name, previous);
      else next.set(spec.name, this.#build(spec, this.#endpointSpecs.get(spec.name) ?? []));
    }
    this.#replace(next);
  }

  setEndpoints(byCluster: ReadonlyMap<string, readonly EndpointSpec[]>): void {
    this.#endpointSpecs = new Map(byCluster);
    const next = new Map<string, Cluster>();
    for (const [name, cluster] of this.#clusters) {
      next.set(name, this.#build(cluster.spec, byCluster.get(name) ?? []));
    }
    this.#replace(next);
  }

  /** The clusters the current routes and listeners name; they outlive their removal. */
  setReferenced(names: ReadonlySet<string>): void {
    this.#referenced = names;
    this.#replace(new Map(this.#clusters));
  }

  close(): void {
    this.#replace(new Map());
  }

  #build(spec: ClusterSpec, endpointSpecs: readonly EndpointSpec[]): Cluster {
    const endpoints: Endpoint[] = endpointSpecs.map((e) => ({
      address: e.address,
      labels: e.labels,
      nodeId: e.nodeId,
      weight: e.weight,
      identity: e.identity,
      upstream: this.#pools.acquire(e.address, e.identity),
    }));
    return { spec, endpoints, lb: createLoadBalancer(spec.lbPolicy, endpoints) };
  }

  /** Swaps in `next` (minus clusters neither wanted nor referenced) and releases the pools
   * of clusters that left or were rebuilt. */
  #replace(next: Map<string, Cluster>): void {
    for (const name of next.keys()) {
      if (!this.#wanted.has(name) && !this.#referenced.has(name)) next.delete(name);
    }
    const previous = this.#clusters;
    this.#clusters = next;
    for (const [name, cluster] of previous) {
      if (next.get(name) === cluster) continue;
      for (const endpoint of cluster.endpoints) this.#pools.release(endpoint.upstream);
    }
  }
}

function sameSpec(a: ClusterSpec, b: ClusterSpec): boolean {
  return a.lbPolicy === b.lbPolicy && a.connectTimeoutMs === b.connectTimeoutMs && a.service === b.service && a.namespace === b.namespace;
}
