// ClusterLoadAssignment (proto) → endpoints by cluster name.
import { isIP } from 'node:net';
import { parseSpiffeId } from '@weft/certs';
import type { ClusterLoadAssignment } from '@weft/proto';
import type { EndpointSpec } from '../../cluster/cluster-manager.ts';
import type { Problems } from './problems.ts';

export function toEndpoints(assignment: ClusterLoadAssignment, problems: Problems): EndpointSpec[] {
  const where = `ClusterLoadAssignment "${assignment.clusterName}"`;
  if (!assignment.clusterName) problems.add(where, 'cluster_name', 'required');
  return assignment.endpoints.map((e, i) => {
    if (!e.address || /[\s/]/.test(e.address)) problems.add(where, `endpoints[${i}].address`, `"${e.address}" is not an address`);
    if (e.port < 1 || e.port > 65535) problems.add(where, `endpoints[${i}].port`, `${e.port} is not a port`);
    if (e.identity) {
      const parsed = parseSpiffeId(e.identity);
      if (!parsed.ok) problems.add(where, `endpoints[${i}].identity`, parsed.error);
    }
    const host = isIP(e.address) === 6 ? `[${e.address}]` : e.address;
    return { address: `${host}:${e.port}`, labels: { ...e.labels }, nodeId: e.nodeId, weight: e.weight || 1, identity: e.identity };
  });
}
