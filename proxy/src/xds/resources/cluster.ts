// Cluster (proto) → ClusterSpec.
import { type Cluster, LbPolicy } from '@weft/proto';
import type { ClusterSpec } from '../../cluster/cluster-manager.ts';
import type { Problems } from './problems.ts';

const DEFAULT_CONNECT_TIMEOUT_MS = 1000;

export function toClusterSpec(cluster: Cluster, problems: Problems): ClusterSpec {
  const where = `Cluster "${cluster.name}"`;
  if (!cluster.name) problems.add(where, 'name', 'required');
  if (cluster.connectTimeoutMs > 60_000) problems.add(where, 'connect_timeout_ms', 'at most 60000');
  return {
    name: cluster.name,
    service: cluster.service,
    namespace: cluster.namespace,
    lbPolicy: cluster.lbPolicy === LbPolicy.ROUND_ROBIN ? 'round-robin' : 'least-request',
    connectTimeoutMs: cluster.connectTimeoutMs || DEFAULT_CONNECT_TIMEOUT_MS,
  };
}
