// Names shared by the builder and whoever reads its output (status, tests, docs).

/** "orders.default", "orders.default~version=v2" for a subset, "orders.default@10.1.2.3" for
 * the endpoints at one address (a pod called by its IP). */
export function clusterName(service: string, namespace: string, subset: Readonly<Record<string, string>>, address?: string): string {
  const at = address === undefined ? '' : `@${address}`;
  const keys = Object.keys(subset).sort();
  if (keys.length === 0) return `${service}.${namespace}${at}`;
  return `${service}.${namespace}~${keys.map((k) => `${k}=${subset[k]}`).join(',')}${at}`;
}

/** The host names under which a node in `fromNamespace` reaches a service. */
export function serviceDomains(service: string, namespace: string, fromNamespace: string): string[] {
  const qualified = [`${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
  return namespace === fromNamespace ? [service, ...qualified] : qualified;
}

export const OUTBOUND_ROUTE_CONFIG = 'outbound';
export const OUTBOUND_LISTENER = 'outbound';
export const INBOUND_LISTENER = 'inbound';
