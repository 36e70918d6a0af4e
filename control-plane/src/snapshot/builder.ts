// Pure translation: the mesh index + one sidecar's identity → the resources that sidecar
// should hold, with a content version per type. Equal content gives equal versions, so a
// reconnecting sidecar that already has a version is not sent it again.

import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { create, type DescMessage, type MessageInitShape, type MessageShape, toBinary } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import {
  type AuthorizationPolicy,
  AuthorizationPolicySchema,
  type Cluster,
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
  ClusterSchema,
  type HeaderMatcher,
  HeaderMatcherSchema,
  LbPolicy,
  type Listener,
  ListenerSchema,
  MtlsMode,
  Protocol,
  type Resource,
  ResourceSchema,
  type ResourceType,
  RetryOn,
  type RetryPolicy as RetryPolicyProto,
  RetryPolicySchema,
  type Route,
  RouteConfigurationSchema,
  RouteSchema,
  TrafficDirection,
  TrustBundleSchema,
  type VirtualHost,
  VirtualHostSchema,
} from '@weft/proto';
import { DEFAULT_RETRY, type EffectiveDestinationPolicy } from '../model/defaults.ts';
import { effectivePolicy } from '../model/destination-policy.ts';
import type {
  AuthorizationPolicyResource,
  Backend,
  HeaderMatch,
  MtlsMode as MeshMtlsMode,
  Protocol as MeshProtocol,
  Principal,
  RetryCondition,
  RetryPolicy,
  RouteResource,
  RouteRule,
  ServiceResource,
} from '../model/resources.ts';
import type { MeshIndex } from './mesh-index.ts';
import { clusterName, INBOUND_LISTENER, OUTBOUND_LISTENER, OUTBOUND_ROUTE_CONFIG, serviceDomains } from './names.ts';

export interface NodeView {
  readonly service: string;
  readonly namespace: string;
}

/**
 * What a sidecar is sent besides its own inbound side. `all`: every service in the mesh
 * (sidecars that ask for everything). `hosts`: the hosts its service declares in
 * `spec.calls` plus those it asked for on first use (lazy discovery, as Linkerd does), so
 * its config does not grow with the mesh.
 */
export type Interest = { readonly kind: 'all' } | { readonly kind: 'hosts'; readonly hosts: readonly string[] };

export const ALL: Interest = { kind: 'all' };

export interface TypeSnapshot {
  readonly version: string;
  readonly resources: readonly Resource[];
}

export interface Snapshot {
  readonly changeId: number;
  readonly types: Readonly<Record<ResourceType, TypeSnapshot>>;
}

/** A translated resource with its content hash, built once per change however many nodes use it. */
interface Built {
  readonly resource: Resource;
}

/** A virtual host as a destination: its routes and the clusters they send to. */
interface HostEntry {
  readonly key: string;
  /** Route resource that owns it, or undefined for a service's default. */
  readonly route: RouteResource | undefined;
  readonly service: ServiceResource | undefined;
  /** Set when the host is an endpoint's IP (an app called http://<pod ip>:<port>/): only
   * the endpoints of `service` at this address receive its requests. */
  readonly address?: string;
}

/**
 * Builds snapshots for one mesh index (one change id). Translation is pure, and every piece
 * several sidecars share (a cluster, its endpoints, a virtual host, an inbound listener, a
 * whole type for one view) is built once and reused, so a push to a thousand sidecars
 * costs about what their distinct views cost.
 */
export class SnapshotBuilder {
  readonly #mesh: MeshIndex;
  readonly #clusters = new Map<string, { cluster: Cluster; built: Built; assignment: Built }>();
  readonly #virtualHosts = new Map<string, { vhost: VirtualHost; clusters: readonly string[] }>();
  readonly #types = new Map<string, TypeSnapshot>();
  /** Route by the service it names ("ns/name") and by other host names. */
  readonly #routeByService = new Map<string, RouteResource>();
  readonly #routeByHost = new Map<string, RouteResource>();
  readonly #wildcardRoutes: [string, RouteResource][] = [];
  /** Endpoint IP → the service whose endpoints have it; null when several services share it. */
  readonly #serviceByAddress = new Map<string, ServiceResource | null>();
  #trust: TypeSnapshot | undefined;

  constructor(mesh: MeshIndex) {
    this.#mesh = mesh;
    for (const route of mesh.routes) {
      for (const host of route.spec.hosts) {
        const service = host.includes('.') ? undefined : mesh.services.get(`${route.metadata.namespace}/${host}`);
        if (service) this.#routeByService.set(`${service.metadata.namespace}/${service.metadata.name}`, route);
        else if (host.startsWith('*.')) this.#wildcardRoutes.push([host.slice(1), route]);
        else this.#routeByHost.set(host, route);
      }
    }
    this.#wildcardRoutes.sort((a, b) => b[0].length - a[0].length);
    for (const [key, records] of mesh.endpoints) {
      const service = mesh.services.get(key);
      if (!service) continue;
      for (const { address } of records) {
        const known = this.#serviceByAddress.get(address);
        this.#serviceByAddress.set(address, known === undefined || known === service ? service : null);
      }
    }
  }

  get changeId(): number {
    return this.#mesh.changeId;
  }

  build(node: NodeView, interest: Interest = ALL): Snapshot {
    const entries = this.#entriesFor(node, interest);
    const entryKeys = entries.map((e) => e.key).join(' ');
    const routeKey = `route|${node.namespace}|${entryKeys}`;
    const clusterNames = new Set<string>();
    const vhosts: VirtualHost[] = [];
    for (const entry of entries) {
      if (entry.service?.spec.protocol === 'tcp') {
        clusterNames.add(
          this.#useCluster({ service: entry.service.metadata.name, namespace: entry.service.metadata.namespace, subset: {} }),
        );
        continue;
      }
      const { vhost, clusters } = this.#virtualHost(entry, node.namespace);
      vhosts.push(vhost);
      for (const name of clusters) clusterNames.add(name);
    }
    const names = [...clusterNames].sort();
    const clusterKey = names.join(' ');
    const tcpServices = entries.filter((e) => e.service?.spec.protocol === 'tcp').map((e) => e.service as ServiceResource);
    return {
      changeId: this.#mesh.changeId,
      types: {
        trustBundle: this.#trustBundle(),
        cluster: this.#cached(`cluster|${clusterKey}`, () => combine(names.map((n) => (this.#clusters.get(n) as { built: Built }).built))),
        endpoint: this.#cached(`endpoint|${clusterKey}`, () =>
          combine(names.map((n) => (this.#clusters.get(n) as { assignment: Built }).assignment)),
        ),
        listener: this.#cached(`listener|${node.namespace}/${node.service}|${tcpServices.map(serviceKey).join(' ')}`, () =>
          typeSnapshot(ListenerSchema, this.#listeners(node, tcpServices)),
        ),
        route: this.#cached(routeKey, () =>
          typeSnapshot(RouteConfigurationSchema, [create(RouteConfigurationSchema, { name: OUTBOUND_ROUTE_CONFIG, virtualHosts: vhosts })]),
        ),
      },
    };
  }

  /** The destinations a node is sent, in a stable order. */
  #entriesFor(node: NodeView, interest: Interest): HostEntry[] {
    const entries = new Map<string, HostEntry>();
    const add = (entry: HostEntry | undefined) => {
      if (entry && !entries.has(entry.key)) entries.set(entry.key, entry);
    };
    if (interest.kind === 'all') {
      for (const route of this.#mesh.routes) add(this.#routeEntry(route));
      for (const service of this.#mesh.services.values()) add(this.#serviceEntry(service));
    } else {
      const own = this.#mesh.services.get(`${node.namespace}/${node.service}`);
      for (const host of own?.spec.calls ?? []) add(this.resolve(host, node.namespace));
      for (const host of interest.hosts) add(this.resolve(host, node.namespace));
    }
    return [...entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Which destination a host names for a node in `namespace`, if any. */
  resolve(hostHeader: string, namespace: string): HostEntry | undefined {
    const host = hostHeader.toLowerCase().replace(/:\d+$/, '');
    const address = ipOf(host);
    if (address !== undefined) return this.#endpointEntry(address);
    const parts = host.split('.');
    const candidates =
      parts.length === 1
        ? [`${namespace}/${host}`]
        : parts.length === 2 ||
            (parts.length === 3 && parts[2] === 'svc') ||
            (parts.length === 5 && parts.slice(2).join('.') === 'svc.cluster.local')
          ? [`${parts[1]}/${parts[0]}`]
          : [];
    for (const key of candidates) {
      const service = this.#mesh.services.get(key);
      if (service) return this.#serviceEntry(service);
    }
    const exact = this.#routeByHost.get(host);
    if (exact) return this.#routeEntry(exact);
    for (const [suffix, route] of this.#wildcardRoutes) {
      if (host.length > suffix.length && host.endsWith(suffix)) return this.#routeEntry(route);
    }
    return undefined;
  }

  #serviceEntry(service: ServiceResource): HostEntry {
    const route = this.#routeByService.get(serviceKey(service));
    if (route && service.spec.protocol !== 'tcp') return this.#routeEntry(route);
    return { key: `service:${serviceKey(service)}`, route: undefined, service };
  }

  /**
   * An IP host names the endpoint with that address (Linkerd's "endpoint" target): the app
   * dialled a pod directly, so its requests go to that pod, over mTLS, rather than to any
   * endpoint of the service. Endpoints announce the sidecar's inbound port and the app
   * dialled the app's port, so only the IP is compared. An IP that is no endpoint, or that
   * endpoints of several services share (sidecars on one host), names nothing: the
   * sidecar sends such traffic on unchanged to where it was going.
   */
  #endpointEntry(address: string): HostEntry | undefined {
    const service = this.#serviceByAddress.get(address);
    if (!service || service.spec.protocol === 'tcp') return undefined;
    return { key: `endpoint:${address}`, route: undefined, service, address };
  }

  #routeEntry(route: RouteResource): HostEntry {
    return { key: `route:${route.metadata.namespace}/${route.metadata.name}`, route, service: undefined };
  }

  #virtualHost(entry: HostEntry, fromNamespace: string): { vhost: VirtualHost; clusters: readonly string[] } {
    const cacheKey = `${entry.key}|${fromNamespace}`;
    const cached = this.#virtualHosts.get(cacheKey);
    if (cached) return cached;
    const clusters: string[] = [];
    const use = (backend: Pick<Backend, 'service' | 'namespace' | 'subset'>, address?: string) => {
      const name = this.#useCluster(backend, address);
      clusters.push(name);
      return name;
    };
    let vhost: VirtualHost;
    if (entry.address !== undefined) {
      const service = entry.service as ServiceResource;
      const cluster = use({ service: service.metadata.name, namespace: service.metadata.namespace, subset: {} }, entry.address);
      vhost = create(VirtualHostSchema, {
        name: entry.key,
        domains: [isIP(entry.address) === 6 ? `[${entry.address}]` : entry.address],
        routes: [
          create(RouteSchema, {
            name: `${entry.key}/default`,
            match: { pathSpecifier: { case: 'prefix', value: '/' } },
            action: { clusters: [{ name: cluster, weight: 100 }], retryPolicy: toRetryPolicy(DEFAULT_RETRY) },
          }),
        ],
      });
    } else if (entry.route) {
      const route = entry.route;
      const domains = new Set<string>();
      for (const host of route.spec.hosts) {
        const service = host.includes('.') ? undefined : this.#mesh.services.get(`${route.metadata.namespace}/${host}`);
        if (service) for (const d of serviceDomains(service.metadata.name, service.metadata.namespace, fromNamespace)) domains.add(d);
        else domains.add(host);
      }
      vhost = create(VirtualHostSchema, {
        name: `${route.metadata.namespace}/${route.metadata.name}`,
        domains: [...domains],
        routes: route.spec.rules.map((rule, index) => toRoute(`${route.metadata.namespace}/${route.metadata.name}/${index}`, rule, use)),
      });
    } else {
      const service = entry.service as ServiceResource;
      const key = serviceKey(service);
      const cluster = use({ service: service.metadata.name, namespace: service.metadata.namespace, subset: {} });
      vhost = create(VirtualHostSchema, {
        name: key,
        domains: serviceDomains(service.metadata.name, service.metadata.namespace, fromNamespace),
        routes: [
          create(RouteSchema, {
            name: `${key}/default`,
            match: { pathSpecifier: { case: 'prefix', value: '/' } },
            action: { clusters: [{ name: cluster, weight: 100 }], retryPolicy: toRetryPolicy(DEFAULT_RETRY) },
          }),
        ],
      });
    }
    const result = { vhost, clusters };
    this.#virtualHosts.set(cacheKey, result);
    return result;
  }

  /** Builds (once) the cluster and its endpoints for a backend, or for its endpoints at one
   * address only; returns its name. */
  #useCluster(backend: Pick<Backend, 'service' | 'namespace' | 'subset'>, address?: string): string {
    const name = clusterName(backend.service, backend.namespace, backend.subset, address);
    if (this.#clusters.has(name)) return name;
    const service = this.#mesh.services.get(`${backend.namespace}/${backend.service}`);
    const policy = effectivePolicy(this.#mesh.destinationPolicies.get(`${backend.namespace}/${backend.service}`) ?? [], backend.subset);
    const cluster = create(ClusterSchema, {
      name,
      service: backend.service,
      namespace: backend.namespace,
      subset: { ...backend.subset },
      protocol: toProtocol(service?.spec.protocol),
      ...clusterPolicy(policy),
    });
    this.#clusters.set(name, {
      cluster,
      built: built(ClusterSchema, cluster, name),
      assignment: built(ClusterLoadAssignmentSchema, toAssignment(this.#mesh, cluster, address), name),
    });
    return name;
  }

  #listeners(node: NodeView, tcpServices: readonly ServiceResource[]): Listener[] {
    const own = this.#mesh.services.get(`${node.namespace}/${node.service}`);
    const listeners: Listener[] = [
      create(ListenerSchema, {
        name: OUTBOUND_LISTENER,
        direction: TrafficDirection.OUTBOUND,
        protocol: Protocol.UNSPECIFIED,
        routeConfigName: OUTBOUND_ROUTE_CONFIG,
      }),
      create(ListenerSchema, {
        name: INBOUND_LISTENER,
        direction: TrafficDirection.INBOUND,
        protocol: toProtocol(own?.spec.protocol),
        mtlsMode: toMtlsMode(own?.spec.mtls),
        authorizationPolicies: (this.#mesh.policies.get(`${node.namespace}/${node.service}`) ?? []).map((p) =>
          toAuthorizationPolicy(p, this.#mesh.trust.trustDomain),
        ),
      }),
    ];
    for (const service of tcpServices) {
      listeners.push(tcpListener(service, clusterName(service.metadata.name, service.metadata.namespace, {})));
    }
    return listeners;
  }

  #trustBundle(): TypeSnapshot {
    this.#trust ??= typeSnapshot(
      TrustBundleSchema,
      [
        create(TrustBundleSchema, {
          trustDomain: this.#mesh.trust.trustDomain,
          roots: [...this.#mesh.trust.roots],
          signer: this.#mesh.trust.signer,
        }),
      ],
      (b) => b.trustDomain,
    );
    return this.#trust;
  }

  #cached(key: string, make: () => TypeSnapshot): TypeSnapshot {
    let snapshot = this.#types.get(key);
    if (!snapshot) {
      snapshot = make();
      this.#types.set(key, snapshot);
    }
    return snapshot;
  }
}

/** The address an IP host names (IPv6 in brackets, as in a Host header), or undefined. */
function ipOf(host: string): string | undefined {
  if (isIP(host) === 4) return host;
  if (host.startsWith('[') && host.endsWith(']') && isIP(host.slice(1, -1)) === 6) return host.slice(1, -1);
  return undefined;
}

/** Builds one snapshot with a fresh builder (tests, one-off callers). */
export function buildSnapshot(mesh: MeshIndex, node: NodeView, interest: Interest = ALL): Snapshot {
  return new SnapshotBuilder(mesh).build(node, interest);
}

function serviceKey(service: ServiceResource): string {
  return `${service.metadata.namespace}/${service.metadata.name}`;
}

function toRoute(name: string, rule: RouteRule, useCluster: (b: Backend) => string): Route {
  const pathSpecifier =
    rule.path === undefined
      ? ({ case: 'prefix', value: '/' } as const)
      : rule.path.kind === 'exact'
        ? ({ case: 'path', value: rule.path.value } as const)
        : ({ case: rule.path.kind, value: rule.path.value } as const);
  return create(RouteSchema, {
    name,
    match: { pathSpecifier, headers: rule.headers.map(toHeaderMatcher), methods: [...rule.methods] },
    action: {
      clusters: rule.backends.map((backend) => ({ name: useCluster(backend), weight: backend.weight })),
      timeoutMs: rule.timeoutMs,
      retryPolicy: toRetryPolicy(rule.retries),
    },
  });
}

const RETRY_ON: Readonly<Record<RetryCondition, RetryOn>> = {
  '5xx': RetryOn.SERVER_ERROR,
  'gateway-error': RetryOn.GATEWAY_ERROR,
  reset: RetryOn.RESET,
  'connect-failure': RetryOn.CONNECT_FAILURE,
  cancelled: RetryOn.GRPC_CANCELLED,
  'deadline-exceeded': RetryOn.GRPC_DEADLINE_EXCEEDED,
  'resource-exhausted': RetryOn.GRPC_RESOURCE_EXHAUSTED,
  unavailable: RetryOn.GRPC_UNAVAILABLE,
};

function toRetryPolicy(policy: RetryPolicy): RetryPolicyProto {
  return create(RetryPolicySchema, {
    maxRetries: policy.attempts,
    perTryTimeoutMs: policy.perTryTimeoutMs,
    retryOn: policy.retryOn.map((c) => RETRY_ON[c]),
    retriableStatusCodes: [...policy.retriableStatusCodes],
    backoffBaseMs: policy.backoff.baseMs,
    backoffMaxMs: policy.backoff.maxMs,
    retryNonIdempotent: policy.retryNonIdempotent,
    maxRequestBytes: policy.maxRequestBytes,
  });
}

/** The Cluster fields a destination policy sets. Outlier detection with nothing to detect is left out. */
function clusterPolicy(policy: EffectiveDestinationPolicy): MessageInitShape<typeof ClusterSchema> {
  const lb = policy.loadBalancer;
  const hash = lb.policy === 'consistent-hash' ? lb.consistentHash : undefined;
  const o = policy.outlierDetection;
  const detects = o.consecutive5xx > 0 || o.consecutiveGatewayErrors > 0 || o.successRate !== undefined;
  return {
    lbPolicy:
      lb.policy === 'round-robin' ? LbPolicy.ROUND_ROBIN : lb.policy === 'consistent-hash' ? LbPolicy.RING_HASH : LbPolicy.LEAST_REQUEST,
    ...(hash
      ? {
          hashPolicy: {
            key:
              'header' in hash
                ? { case: 'header', value: hash.header }
                : { case: 'cookie', value: { name: hash.cookie.name, ttlMs: hash.cookie.ttlMs, path: hash.cookie.path } },
          },
        }
      : {}),
    panicThresholdPercent: lb.panicThreshold,
    connectTimeoutMs: policy.connectionPool.connectTimeoutMs,
    connectionPool: {
      idleTimeoutMs: policy.connectionPool.idleTimeoutMs,
      maxConnections: policy.connectionPool.maxConnections,
      maxPendingRequests: policy.connectionPool.maxPendingRequests,
      maxRequestsPerConnection: policy.connectionPool.maxRequestsPerConnection,
    },
    circuitBreakers: { ...policy.circuitBreakers },
    ...(detects
      ? {
          outlierDetection: {
            consecutive5xx: o.consecutive5xx,
            consecutiveGatewayErrors: o.consecutiveGatewayErrors,
            intervalMs: o.intervalMs,
            baseEjectionTimeMs: o.baseEjectionTimeMs,
            maxEjectionTimeMs: Math.max(o.maxEjectionTimeMs, o.baseEjectionTimeMs),
            maxEjectionPercent: o.maxEjectionPercent,
            ...(o.successRate ? { successRate: { ...o.successRate } } : {}),
          },
        }
      : {}),
    retryBudget: { ...policy.retryBudget },
  };
}

function toHeaderMatcher(match: HeaderMatch): HeaderMatcher {
  const matcher =
    match.kind === 'present' ? ({ case: 'present', value: true } as const) : ({ case: match.kind, value: match.value } as const);
  return create(HeaderMatcherSchema, { name: match.name, invert: match.invert, match: matcher });
}

function tcpListener(service: ServiceResource, cluster: string): Listener {
  return create(ListenerSchema, {
    name: `tcp:${service.metadata.name}.${service.metadata.namespace}`,
    direction: TrafficDirection.OUTBOUND,
    protocol: Protocol.TCP,
    cluster,
    port: service.spec.port,
  });
}

function toAssignment(mesh: MeshIndex, cluster: Cluster, address: string | undefined): ClusterLoadAssignment {
  const candidates = mesh.endpoints.get(`${cluster.namespace}/${cluster.service}`) ?? [];
  const subset = Object.entries(cluster.subset);
  // mtls: disabled means callers use plaintext, which an endpoint without identity says.
  const plaintext = mesh.services.get(`${cluster.namespace}/${cluster.service}`)?.spec.mtls === 'disabled';
  return create(ClusterLoadAssignmentSchema, {
    clusterName: cluster.name,
    endpoints: candidates
      .filter((e) => subset.every(([k, v]) => e.labels[k] === v) && (address === undefined || e.address === address))
      .map((e) => ({
        address: e.address,
        port: e.port,
        labels: { ...e.labels },
        weight: 1,
        nodeId: e.nodeId,
        identity: plaintext ? '' : e.identity,
      })),
  });
}

function toMtlsMode(mode: MeshMtlsMode | undefined): MtlsMode {
  switch (mode) {
    case 'permissive':
      return MtlsMode.PERMISSIVE;
    case 'disabled':
      return MtlsMode.DISABLED;
    default:
      return MtlsMode.STRICT;
  }
}

/** Principals become SPIFFE IDs here, in the mesh's trust domain, so the sidecar only
 * compares strings. */
function toAuthorizationPolicy(policy: AuthorizationPolicyResource, trustDomain: string): AuthorizationPolicy {
  const matcher = (p: Principal) => {
    switch (p.kind) {
      case 'service':
        return { match: { case: 'exact' as const, value: `spiffe://${trustDomain}/ns/${p.namespace}/sa/${p.service}` } };
      case 'namespace':
        return { match: { case: 'prefix' as const, value: `spiffe://${trustDomain}/ns/${p.namespace}/sa/` } };
      case 'identity':
        return { match: { case: 'exact' as const, value: p.id } };
    }
  };
  return create(AuthorizationPolicySchema, {
    name: `${policy.metadata.namespace}/${policy.metadata.name}`,
    rules: policy.spec.rules.map((rule) => ({
      from: rule.from.map(matcher),
      methods: [...rule.methods],
      pathPrefixes: [...rule.pathPrefixes],
    })),
  });
}

function toProtocol(protocol: MeshProtocol | undefined): Protocol {
  switch (protocol) {
    case 'http':
      return Protocol.HTTP1;
    case 'http2':
      return Protocol.HTTP2;
    case 'grpc':
      return Protocol.GRPC;
    case 'tcp':
      return Protocol.TCP;
    default:
      return Protocol.UNSPECIFIED;
  }
}

function built<D extends DescMessage>(schema: D, message: MessageShape<D>, name: string): Built {
  const bytes = toBinary(schema, message);
  const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return { resource: create(ResourceSchema, { name, version, resource: anyPack(schema, message) }) };
}

/** A type's resources sorted by name; its version hashes their names and versions. */
function combine(items: readonly Built[]): TypeSnapshot {
  const sorted = [...items].sort((a, b) => (a.resource.name < b.resource.name ? -1 : a.resource.name > b.resource.name ? 1 : 0));
  const typeHash = createHash('sha256');
  for (const { resource } of sorted) typeHash.update(resource.name).update('\0').update(resource.version).update('\0');
  return { version: typeHash.digest('hex').slice(0, 16), resources: sorted.map((b) => b.resource) };
}

function typeSnapshot<D extends DescMessage>(
  schema: D,
  messages: readonly MessageShape<D>[],
  nameOf: (m: MessageShape<D>) => string = (m) => (m as unknown as { name: string }).name,
): TypeSnapshot {
  return combine(messages.map((m) => built(schema, m, nameOf(m))));
}
