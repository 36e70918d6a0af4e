// Validates the node a sidecar announces on its first request: the edge where untrusted
// input becomes a NodeInfo. Every problem is named with its field. Service and namespace
// come from the certificate the stream was opened with; the node may repeat them (or leave
// them empty) but cannot claim another service.
import type { WorkloadIdentity } from '@weft/certs';
import type { Node } from '@weft/proto';
import type { NodeInfo } from './stream-session.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export type NodeResult =
  | { ok: true; node: NodeInfo; endpoint?: { address: string; port: number } }
  | { ok: false; error: string; denied?: true };

export function toNodeInfo(node: Node | undefined, peer: { spiffeId: string; identity: WorkloadIdentity }): NodeResult {
  if (!node) return { ok: false, error: 'the first request on a stream must carry node' };
  const { namespace, serviceAccount: service } = peer.identity;
  if ((node.service && node.service !== service) || (node.namespace && node.namespace !== namespace)) {
    return {
      ok: false,
      denied: true,
      error: `node claims service ${node.service || service}.${node.namespace || namespace}, but its certificate is ${peer.spiffeId}`,
    };
  }
  const problems: string[] = [];
  if (!node.id || node.id.length > 253) problems.push('node.id: required, at most 253 characters');
  if (!DNS_LABEL.test(service)) problems.push(`certificate service "${service}" is not a DNS label`);
  if (!DNS_LABEL.test(namespace)) problems.push(`certificate namespace "${namespace}" is not a DNS label`);
  let endpoint: { address: string; port: number } | undefined;
  if (node.inboundAddress) {
    const parsed = parseHostPort(node.inboundAddress);
    if (parsed) endpoint = parsed;
    else problems.push(`node.inbound_address: "${node.inboundAddress}" is not host:port`);
  }
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return {
    ok: true,
    node: {
      id: node.id,
      service,
      namespace,
      identity: peer.spiffeId,
      labels: { ...node.labels },
      inboundAddress: node.inboundAddress,
      proxyVersion: node.proxyVersion,
      discovery: node.metadata['discovery'] === 'on-demand' ? 'on-demand' : 'all',
    },
    ...(endpoint ? { endpoint } : {}),
  };
}

function parseHostPort(value: string): { address: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { address: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}
