// Names shared by the builder and whoever reads its output (status, tests, docs).

/** "orders.default", or "orders.default~version=v2" for a subset. */
export function clusterName(service: string, namespace: string, subset: Readonly<Record<string, string>>): string {
  const keys = Object.keys(subset).sort();
  if (keys.length === 0) return `${service}.${namespace}`;
  return `${service}.${namespace}~${keys.map((k) => `${k}=${subset[k]}`).join(',')}`;
}

/** The host names under which a node in `fromNamespace` reaches a service. */
export function serviceDomains(service: string, namespace: string, fromNamespace: string): string[] {
  const qualified = [`${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
  return namespace === fromNamespace ? [service, ...qualified] : qualified;
}

export const OUTBOUND_ROUTE_CONFIG = 'outbound';
export const OUTBOUND_LISTENER = 'outbound';
export const INBOUND_LISTENER = 'inbound';
