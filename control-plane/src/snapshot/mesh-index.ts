// The mesh at one change id, indexed for building per-sidecar snapshots: services by name,
// the one Route per host, endpoints by service. Built once per push, shared by all nodes.

import type {
  AuthorizationPolicyResource,
  DestinationPolicyResource,
  MeshResource,
  RouteResource,
  ServiceResource,
} from '../model/resources.ts';
import type { EndpointRecord } from '../registry/endpoint-registry.ts';
import type { ConfigState } from '../store/config-store.ts';

export interface MeshIndex {
  readonly changeId: number;
  /** "namespace/name" → Service */
  readonly services: ReadonlyMap<string, ServiceResource>;
  readonly routes: readonly RouteResource[];
  /** "namespace/service" → its DestinationPolicies (service-wide and per subset) */
  readonly destinationPolicies: ReadonlyMap<string, readonly DestinationPolicyResource[]>;
  /** "namespace/service" → endpoints, ordered by node id */
  readonly endpoints: ReadonlyMap<string, readonly EndpointRecord[]>;
  /** "namespace/service" → the AuthorizationPolicies for it, ordered by name */
  readonly policies: ReadonlyMap<string, readonly AuthorizationPolicyResource[]>;
  readonly trust: MeshTrust;
}

/** The trust domain, its roots and the CA certificate signing now (all DER). */
export interface MeshTrust {
  readonly trustDomain: string;
  readonly roots: readonly Uint8Array[];
  readonly signer: Uint8Array;
}

export function buildMeshIndex(config: ConfigState, endpoints: readonly EndpointRecord[], changeId: number, trust: MeshTrust): MeshIndex {
  const services = new Map<string, ServiceResource>();
  const routes: RouteResource[] = [];
  const policies = new Map<string, AuthorizationPolicyResource[]>();
  const destinationPolicies = new Map<string, DestinationPolicyResource[]>();
  const sorted = [...config.resources.values()].map((s) => s.resource).sort(byKey);
  for (const resource of sorted) {
    if (resource.kind === 'Service') services.set(`${resource.metadata.namespace}/${resource.metadata.name}`, resource);
    else if (resource.kind === 'Route') routes.push(resource);
    else if (resource.kind === 'AuthorizationPolicy') {
      const key = `${resource.metadata.namespace}/${resource.spec.service}`;
      const list = policies.get(key);
      if (list) list.push(resource);
      else policies.set(key, [resource]);
    } else if (resource.kind === 'DestinationPolicy') {
      const key = `${resource.metadata.namespace}/${resource.spec.service}`;
      destinationPolicies.set(key, [...(destinationPolicies.get(key) ?? []), resource]);
    }
  }
  const byService = new Map<string, EndpointRecord[]>();
  for (const endpoint of endpoints) {
    const key = `${endpoint.namespace}/${endpoint.service}`;
    const list = byService.get(key);
    if (list) list.push(endpoint);
    else byService.set(key, [endpoint]);
  }
  return { changeId, services, routes, destinationPolicies, endpoints: byService, policies, trust };
}

function byKey(a: MeshResource, b: MeshResource): number {
  const ka = `${a.kind}/${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.kind}/${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
