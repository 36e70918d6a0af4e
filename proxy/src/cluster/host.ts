// One endpoint as a cluster sees it: where it is, the pool that reaches it, and its passive
// health (owned and changed only by the cluster's outlier detector). A Host outlives
// endpoint updates that keep its address, so ejections survive unrelated config changes.
import type { Upstream } from '../upstream/upstream-pools.ts';
import { HostHealth } from './outlier-detector.ts';

export class Host {
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeId: string;
  readonly weight: number;
  readonly upstream: Upstream;
  readonly health = new HostHealth();

  constructor(endpoint: { address: string; labels: Readonly<Record<string, string>>; nodeId: string; weight: number }, upstream: Upstream) {
    this.address = endpoint.address;
    this.labels = endpoint.labels;
    this.nodeId = endpoint.nodeId;
    this.weight = endpoint.weight;
    this.upstream = upstream;
  }
}
