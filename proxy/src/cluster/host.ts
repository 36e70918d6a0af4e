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
  /** The SPIFFE ID it proves over mTLS; empty for plaintext. */
  readonly identity: string;
  readonly upstream: Upstream;
  readonly health = new HostHealth();

  constructor(
    endpoint: { address: string; labels: Readonly<Record<string, string>>; nodeId: string; weight: number; identity: string },
    upstream: Upstream,
  ) {
    this.address = endpoint.address;
    this.labels = endpoint.labels;
    this.nodeId = endpoint.nodeId;
    this.weight = endpoint.weight;
    this.identity = endpoint.identity;
    this.upstream = upstream;
  }
}
