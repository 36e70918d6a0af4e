// Clusters by name, with their endpoints. Clusters and endpoints arrive as separate
// resource types; each update is applied to the long-lived Cluster objects in place (see
// cluster.ts), so counters, ejections and budgets survive config changes. A request holds
// the Cluster it picked; a retry after an update sees the new endpoints, which is what it
// wants.
//
// A cluster dropped by a cluster update but still named by the current routes is kept,
// with the endpoints it had, until the routes stop naming it: the control plane sends
// clusters and endpoints before routes, so in between (for as long as the next route
// update takes to arrive, which under load is long enough for many requests), requests on
// the old routes must still find their cluster and reach its endpoints.
import type { Logger } from 'pino';
import type { UpstreamPools } from '../upstream/upstream-pools.ts';
import { Cluster, type ClusterSpec, type EndpointSpec } from './cluster.ts';

export type { ClusterSpec, EndpointSpec } from './cluster.ts';

export class ClusterManager {
  readonly #pools: UpstreamPools;
  readonly #log: Logger;
  #clusters = new Map<string, Cluster>();
  /** Names in the latest cluster update. */
  #wanted = new Set<string>();
  /** Latest endpoints by cluster name (endpoints may arrive for clusters kept alive). */
  #endpointSpecs = new Map<string, readonly EndpointSpec[]>();
  #referenced: ReadonlySet<string> = new Set();

  constructor(pools: UpstreamPools, log: Logger) {
    this.#pools = pools;
    this.#log = log;
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
      const existing = this.#clusters.get(spec.name);
      if (existing) {
        existing.update(spec);
        next.set(spec.name, existing);
      } else {
        const cluster = new Cluster(spec, this.#pools, this.#log);
        cluster.setEndpoints(this.#endpointSpecs.get(spec.name) ?? []);
        next.set(spec.name, cluster);
      }
    }
    for (const [name, cluster] of this.#clusters) if (!next.has(name)) next.set(name, cluster);
    this.#replace(next);
  }

  setEndpoints(byCluster: ReadonlyMap<string, readonly EndpointSpec[]>): void {
    const specs = new Map(byCluster);
    for (const [name, cluster] of this.#clusters) {
      const endpoints = byCluster.get(name);
      if (endpoints === undefined && !this.#wanted.has(name)) {
        // Kept alive for the current routes only: the control plane has stopped sending
        // its endpoints, but they still serve until the routes move on.
        const last = this.#endpointSpecs.get(name);
        if (last) specs.set(name, last);
        continue;
      }
      cluster.setEndpoints(endpoints ?? []);
    }
    this.#endpointSpecs = specs;
  }

  /** The clusters the current routes and listeners name; they outlive their removal. */
  setReferenced(names: ReadonlySet<string>): void {
    this.#referenced = names;
    this.#replace(new Map(this.#clusters));
  }

  close(): void {
    this.#wanted = new Set();
    this.#referenced = new Set();
    this.#replace(new Map(this.#clusters));
  }

  /** Swaps in `next` minus clusters neither wanted nor referenced, and closes those. */
  #replace(next: Map<string, Cluster>): void {
    for (const [name, cluster] of next) {
      if (this.#wanted.has(name) || this.#referenced.has(name)) continue;
      next.delete(name);
      cluster.close();
    }
    this.#clusters = next;
  }
}
