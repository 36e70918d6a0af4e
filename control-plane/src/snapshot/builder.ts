// Pure translation: the mesh index + one sidecar's identity → the resources that sidecar
// should hold, with a content version per type. Equal content gives equal versions, so a
// reconnecting sidecar that already has a version is not sent it again.

import { createHash } from 'node:crypto';
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
  RouteRule,
  ServiceResource,
} from '../model/resources.ts';
import type { MeshIndex } from './mesh-index.ts';
import { clusterName, INBOUND_LISTENER, OUTBOUND_LISTENER, OUTBOUND_ROUTE_CONFIG, serviceDomains } from './names.ts';

export interface NodeView {
  readonly service: string;
  readonly namespace: string;
}

export interface TypeSnapshot {
  readonly version: string;
  readonly resources: readonly Resource[];
}

export interface Snapshot {
  readonly changeId: number;
  readonly types: Readonly<Record<ResourceType, TypeSnapshot>>;
}

export function buildSnapshot(mesh: MeshIndex, node: NodeView): Snapshot {
  const clusters = new Map<string, Cluster>();
  const useCluster = (backend: Pick<Backend, 'service' | 'namespace' | 'subset'>): string => {
    const name = clusterName(backend.service, backend.namespace, backend.subset);
    if (!clusters.has(name)) {
      const service = mesh.services.get(`${backend.namespace}/${backend.service}`);
      const policy = effectivePolicy(mesh.destinationPolicies.get(`${backend.namespace}/${backend.service}`) ?? [], backend.subset);
      clusters.set(
        name,
        create(ClusterSchema, {
          name,
          service: backend.service,
          namespace: backend.namespace,
          subset: { ...backend.subset },
          protocol: toProtocol(service?.spec.protocol),
          ...clusterPolicy(policy),
        }),
      );
    }
    return name;
  };

  const virtualHosts: VirtualHost[] = [];
  const routedServices = new Set<string>();
  for (const route of mesh.routes) {
    const domains = new Set<string>();
    for (const host of route.spec.hosts) {
      const service = host.includes('.') ? undefined : mesh.services.get(`${route.metadata.namespace}/${host}`);
      if (service) {
        routedServices.add(`${service.metadata.namespace}/${service.metadata.name}`);
        for (const d of serviceDomains(service.metadata.name, service.metadata.namespace, node.namespace)) domains.add(d);
      } else {
        domains.add(host);
      }
    }
    virtualHosts.push(
      create(VirtualHostSchema, {
        name: `${route.metadata.namespace}/${route.metadata.name}`,
        domains: [...domains],
        routes: route.spec.rules.map((rule, index) =>
          toRoute(`${route.metadata.namespace}/${route.metadata.name}/${index}`, rule, useCluster),
        ),
      }),
    );
  }
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
      protocol: toProtocol(mesh.services.get(`${node.namespace}/${node.service}`)?.spec.protocol),
      mtlsMode: toMtlsMode(mesh.services.get(`${node.namespace}/${node.service}`)?.spec.mtls),
      authorizationPolicies: (mesh.policies.get(`${node.namespace}/${node.service}`) ?? []).map((p) =>
        toAuthorizationPolicy(p, mesh.trust.trustDomain),
      ),
    }),
  ];
  for (const service of mesh.services.values()) {
    const key = `${service.metadata.namespace}/${service.metadata.name}`;
    const target = { service: service.metadata.name, namespace: service.metadata.namespace, subset: {} };
    if (service.spec.protocol === 'tcp') {
      listeners.push(tcpListener(service, useCluster(target)));
      continue;
    }
    if (routedServices.has(key)) continue;
    virtualHosts.push(
      create(VirtualHostSchema, {
        name: key,
        domains: serviceDomains(service.metadata.name, service.metadata.namespace, node.namespace),
        routes: [
          create(RouteSchema, {
            name: `${key}/default`,
            match: { pathSpecifier: { case: 'prefix', value: '/' } },
            action: { clusters: [{ name: useCluster(target), weight: 100 }], retryPolicy: toRetryPolicy(DEFAULT_RETRY) },
          }),
        ],
      }),
    );
  }

  const routeConfig = create(RouteConfigurationSchema, { name: OUTBOUND_ROUTE_CONFIG, virtualHosts });
  const assignments = [...clusters.values()].map((cluster) => toAssignment(mesh, cluster));

  const trustBundle = create(TrustBundleSchema, {
    trustDomain: mesh.trust.trustDomain,
    roots: [...mesh.trust.roots],
    signer: mesh.trust.signer,
  });

  return {
    changeId: mesh.changeId,
    types: {
      trustBundle: typeSnapshot(TrustBundleSchema, [trustBundle], (b) => b.trustDomain),
      cluster: typeSnapshot(ClusterSchema, [...clusters.values()]),
      endpoint: typeSnapshot(ClusterLoadAssignmentSchema, assignments, (a) => a.clusterName),
      listener: typeSnapshot(ListenerSchema, listeners),
      route: typeSnapshot(RouteConfigurationSchema, [routeConfig]),
    },
  };
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

function toAssignment(mesh: MeshIndex, cluster: Cluster): ClusterLoadAssignment {
  const candidates = mesh.endpoints.get(`${cluster.namespace}/${cluster.service}`) ?? [];
  const subset = Object.entries(cluster.subset);
  // mtls: disabled means callers use plaintext, which an endpoint without identity says.
  const plaintext = mesh.services.get(`${cluster.namespace}/${cluster.service}`)?.spec.mtls === 'disabled';
  return create(ClusterLoadAssignmentSchema, {
    clusterName: cluster.name,
    endpoints: candidates
      .filter((e) => subset.every(([k, v]) => e.labels[k] === v))
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

function typeSnapshot<D extends DescMessage>(
  schema: D,
  messages: readonly MessageShape<D>[],
  nameOf: (m: MessageShape<D>) => string = (m) => (m as unknown as { name: string }).name,
): TypeSnapshot {
  const typeHash = createHash('sha256');
  const resources = messages
    .map((message) => ({ name: nameOf(message), bytes: toBinary(schema, message), message }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, bytes, message }) => {
      const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
      typeHash.update(name).update('\0').update(version);
      return create(ResourceSchema, { name, version, resource: anyPack(schema, message) });
    });
  return { version: typeHash.digest('hex').slice(0, 16), resources };
}
