import { anyUnpack } from '@bufbuild/protobuf/wkt';
import {
  type Cluster,
  type ClusterLoadAssignment,
  LbPolicy,
  type Listener,
  MtlsMode,
  RetryOn,
  type RouteConfiguration,
  type TrustBundle,
  xdsRegistry,
} from '@weft/proto';
import { describe, expect, it } from 'vitest';
import { parseMeshYaml } from '../model/parse.ts';
import { resourceKey } from '../model/resources.ts';
import type { ConfigState } from '../store/config-store.ts';
import { buildSnapshot } from './builder.ts';
import { buildMeshIndex } from './mesh-index.ts';

function state(yaml: string): ConfigState {
  const parsed = parseMeshYaml(yaml, 'test.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return {
    changeId: 1,
    resources: new Map(
      parsed.documents.map((d) => [
        resourceKey(d.resource),
        { resource: d.resource, origin: { file: 'test.yaml', document: d.document }, source: 'file' as const },
      ]),
    ),
  };
}

const mesh = `apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: orders}
spec: {port: 80}
---
apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: web}
spec: {port: 80}
---
apiVersion: weft.io/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  hosts: [orders]
  rules:
    - backends: [{service: orders, subset: {version: v1}, weight: 90}, {service: orders, subset: {version: v2}, weight: 10}]
`;

const ordersId = 'spiffe://cluster.local/ns/default/sa/orders';
const endpoints = [
  {
    nodeId: 'o1',
    service: 'orders',
    namespace: 'default',
    labels: { version: 'v1' },
    address: '10.0.0.1',
    port: 15006,
    identity: ordersId,
  },
  {
    nodeId: 'o2',
    service: 'orders',
    namespace: 'default',
    labels: { version: 'v2' },
    address: '10.0.0.2',
    port: 15006,
    identity: ordersId,
  },
];
const trust = { trustDomain: 'cluster.local', roots: [new Uint8Array([1, 2])], signer: new Uint8Array([3]) };

describe('buildSnapshot', () => {
  const index = buildMeshIndex(state(mesh), endpoints, 9, trust);
  const snap = buildSnapshot(index, { service: 'web', namespace: 'default' });
  const unpack = <T>(type: 'route' | 'endpoint' | 'cluster') =>
    snap.types[type].resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as T);

  it('routes each service host, with Routes replacing the default', () => {
    const [config] = unpack<RouteConfiguration>('route');
    const hosts = Object.fromEntries(config?.virtualHosts.map((v) => [v.name, v.domains]) ?? []);
    expect(hosts['default/orders']).toEqual(['orders', 'orders.default', 'orders.default.svc', 'orders.default.svc.cluster.local']);
    expect(hosts['default/web']).toContain('web');
    const split = config?.virtualHosts.find((v) => v.name === 'default/orders')?.routes[0]?.action?.clusters;
    expect(split?.map((c) => [c.name, c.weight])).toEqual([
      ['orders.default~version=v1', 90],
      ['orders.default~version=v2', 10],
    ]);
  });

  it('selects subset endpoints by label', () => {
    const assignments = Object.fromEntries(
      unpack<ClusterLoadAssignment>('endpoint').map((a) => [a.clusterName, a.endpoints.map((e) => e.nodeId)]),
    );
    expect(assignments).toEqual({ 'orders.default~version=v1': ['o1'], 'orders.default~version=v2': ['o2'], 'web.default': [] });
  });

  it('gives equal content equal versions and different content different ones', () => {
    const again = buildSnapshot(buildMeshIndex(state(mesh), endpoints, 10, trust), { service: 'web', namespace: 'default' });
    expect(again.types.route.version).toBe(snap.types.route.version);
    expect(again.changeId).toBe(10);
    const fewer = buildSnapshot(buildMeshIndex(state(mesh), endpoints.slice(0, 1), 11, trust), { service: 'web', namespace: 'default' });
    expect(fewer.types.endpoint.version).not.toBe(snap.types.endpoint.version);
    expect(fewer.types.route.version).toBe(snap.types.route.version);
  });

  it('gives endpoints the identity their sidecars proved, and everyone the trust bundle', () => {
    const assignment = unpack<ClusterLoadAssignment>('endpoint').find((a) => a.clusterName === 'orders.default~version=v1');
    expect(assignment?.endpoints[0]?.identity).toBe(ordersId);
    const [bundle] = snap.types.trustBundle.resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as TrustBundle);
    expect(bundle?.trustDomain).toBe('cluster.local');
    expect(bundle?.roots).toEqual([new Uint8Array([1, 2])]);
  });

  it('puts the mTLS mode and the AuthorizationPolicies of its service on the inbound listener', () => {
    const withPolicy = `${mesh.replace('metadata: {name: orders}\nspec: {port: 80}', 'metadata: {name: orders}\nspec: {port: 80, mtls: permissive}')}---
apiVersion: weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: orders-readers}
spec:
  service: orders
  rules:
    - from: [{service: web}, {namespace: ops}, {identity: "spiffe://partner.example/ns/x/sa/y"}]
      methods: [GET]
      pathPrefixes: [/orders]
`;
    const orders = buildSnapshot(buildMeshIndex(state(withPolicy), endpoints, 12, trust), { service: 'orders', namespace: 'default' });
    const listeners = orders.types.listener.resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as Listener);
    const inbound = listeners.find((l) => l.name === 'inbound');
    expect(inbound?.mtlsMode).toBe(MtlsMode.PERMISSIVE);
    expect(inbound?.authorizationPolicies.map((p) => p.name)).toEqual(['default/orders-readers']);
    expect(inbound?.authorizationPolicies[0]?.rules[0]?.from.map((f) => f.match.value)).toEqual([
      'spiffe://cluster.local/ns/default/sa/web',
      'spiffe://cluster.local/ns/ops/sa/',
      'spiffe://partner.example/ns/x/sa/y',
    ]);
    // Another service's sidecar does not get orders' policies.
    const web = buildSnapshot(buildMeshIndex(state(withPolicy), endpoints, 12, trust), { service: 'web', namespace: 'default' });
    const webInbound = web.types.listener.resources
      .map((r) => anyUnpack(r.resource as never, xdsRegistry) as Listener)
      .find((l) => l.name === 'inbound');
    expect(webInbound?.authorizationPolicies).toEqual([]);
    expect(webInbound?.mtlsMode).toBe(MtlsMode.STRICT);
  });

  it('leaves the identity off endpoints of a service with mtls: disabled', () => {
    const disabled = mesh.replace(
      'metadata: {name: orders}\nspec: {port: 80}',
      'metadata: {name: orders}\nspec: {port: 80, mtls: disabled}',
    );
    const snap2 = buildSnapshot(buildMeshIndex(state(disabled), endpoints, 13, trust), { service: 'web', namespace: 'default' });
    const all = snap2.types.endpoint.resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as ClusterLoadAssignment);
    expect(all.flatMap((a) => a.endpoints.map((e) => e.identity))).toEqual(['', '']);
  });

  it('uses short names only within the same namespace', () => {
    const other = buildSnapshot(index, { service: 'web', namespace: 'shop' });
    const [config] = other.types.route.resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as RouteConfiguration);
    expect(config?.virtualHosts.find((v) => v.name === 'default/orders')?.domains).not.toContain('orders');
  });

  it('sends every route the effective retry policy: the defaults, or what the rule says', () => {
    const [config] = unpack<RouteConfiguration>('route');
    const split = config?.virtualHosts.find((v) => v.name === 'default/orders')?.routes[0]?.action?.retryPolicy;
    const fallback = config?.virtualHosts.find((v) => v.name === 'default/web')?.routes[0]?.action?.retryPolicy;
    for (const policy of [split, fallback]) {
      expect(policy).toMatchObject({
        maxRetries: 2,
        perTryTimeoutMs: 0,
        retryOn: [RetryOn.CONNECT_FAILURE, RetryOn.RESET],
        backoffBaseMs: 25,
        backoffMaxMs: 250,
        retryNonIdempotent: false,
        maxRequestBytes: 65536,
      });
    }
    const custom = buildSnapshot(
      buildMeshIndex(
        state(`${mesh.split('---\napiVersion: weft.io/v1alpha1\nkind: Route')[0]}---
apiVersion: weft.io/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  hosts: [orders]
  rules:
    - timeout: 3s
      retries: {attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,unavailable,409", backoff: {base: 50ms, max: 1s}, retryNonIdempotent: true}
      backends: [{service: orders}]
`),
        endpoints,
        12,
        trust,
      ),
      { service: 'web', namespace: 'default' },
    );
    const [customConfig] = custom.types.route.resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as RouteConfiguration);
    expect(customConfig?.virtualHosts.find((v) => v.name === 'default/orders')?.routes[0]?.action).toMatchObject({
      timeoutMs: 3000,
      retryPolicy: {
        maxRetries: 3,
        perTryTimeoutMs: 1000,
        retryOn: [RetryOn.GATEWAY_ERROR, RetryOn.GRPC_UNAVAILABLE],
        retriableStatusCodes: [409],
        backoffBaseMs: 50,
        backoffMaxMs: 1000,
        retryNonIdempotent: true,
        maxRequestBytes: 65536,
      },
    });
  });

  it('sends every cluster its effective destination policy', () => {
    const withPolicy = buildSnapshot(
      buildMeshIndex(
        state(`${mesh}---
apiVersion: weft.io/v1alpha1
kind: DestinationPolicy
metadata: {name: orders}
spec:
  service: orders
  loadBalancer: {policy: consistent-hash, consistentHash: {header: X-User}}
  circuitBreakers: {maxRequests: 10}
---
apiVersion: weft.io/v1alpha1
kind: DestinationPolicy
metadata: {name: orders-v2}
spec:
  service: orders
  subset: {version: v2}
  outlierDetection: {consecutiveGatewayErrors: 0}
`),
        endpoints,
        13,
        trust,
      ),
      { service: 'web', namespace: 'default' },
    );
    const clusters = Object.fromEntries(
      withPolicy.types.cluster.resources.map((r) => {
        const c = anyUnpack(r.resource as never, xdsRegistry) as Cluster;
        return [c.name, c];
      }),
    );
    const v1 = clusters['orders.default~version=v1'];
    expect(v1?.lbPolicy).toBe(LbPolicy.RING_HASH);
    expect(v1?.hashPolicy?.key).toEqual({ case: 'header', value: 'x-user' });
    expect(v1?.circuitBreakers).toMatchObject({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 10, maxRetries: 0 });
    expect(v1?.outlierDetection).toMatchObject({
      consecutive5xx: 0,
      consecutiveGatewayErrors: 5,
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionPercent: 50,
    });
    expect(v1?.retryBudget).toMatchObject({ percent: 20, minRetriesPerSecond: 10, ttlMs: 10_000 });
    expect(v1?.panicThresholdPercent).toBe(50);
    expect(v1?.connectTimeoutMs).toBe(1000);
    // Nothing left to detect on v2: no outlier detection at all.
    expect(clusters['orders.default~version=v2']?.outlierDetection).toBeUndefined();
    // web has no policy: the defaults.
    expect(clusters['web.default']?.lbPolicy).toBe(LbPolicy.LEAST_REQUEST);
  });
});

describe('buildSnapshot scoped by use', () => {
  const scopedMesh = `${mesh}---
apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: payments, namespace: shop}
spec: {port: 80}
---
apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: api}
spec: {port: 80, calls: [payments.shop]}
---
apiVersion: weft.io/v1alpha1
kind: Route
metadata: {name: partners}
spec:
  hosts: ["*.partners.example"]
  rules: [{backends: [{service: web}]}]
`;
  const index = buildMeshIndex(state(scopedMesh), endpoints, 20, trust);
  const vhosts = (snap: ReturnType<typeof buildSnapshot>) =>
    snap.types.route.resources.flatMap((r) =>
      (anyUnpack(r.resource as never, xdsRegistry) as RouteConfiguration).virtualHosts.map((v) => v.name),
    );
  const clusters = (snap: ReturnType<typeof buildSnapshot>) => snap.types.cluster.resources.map((r) => r.name);

  it('sends an on-demand sidecar only what it declared or asked for', () => {
    const nothing = buildSnapshot(index, { service: 'web', namespace: 'default' }, { kind: 'hosts', hosts: [] });
    expect(vhosts(nothing)).toEqual([]);
    expect(clusters(nothing)).toEqual([]);
    const orders = buildSnapshot(index, { service: 'web', namespace: 'default' }, { kind: 'hosts', hosts: ['orders:8080'] });
    expect(vhosts(orders)).toEqual(['default/orders']);
    expect(clusters(orders)).toEqual(['orders.default~version=v1', 'orders.default~version=v2']);
    expect(orders.types.endpoint.resources.map((r) => r.name)).toEqual(clusters(orders));
  });

  it('includes the calls a service declares, resolved from its namespace', () => {
    const api = buildSnapshot(index, { service: 'api', namespace: 'default' }, { kind: 'hosts', hosts: [] });
    expect(vhosts(api)).toEqual(['shop/payments']);
  });

  it('resolves qualified names, wildcard Route hosts, and ignores unknown hosts', () => {
    const snap = buildSnapshot(
      index,
      { service: 'web', namespace: 'shop' },
      { kind: 'hosts', hosts: ['payments', 'web.default.svc.cluster.local', 'a.partners.example', 'nowhere'] },
    );
    expect(vhosts(snap)).toEqual(['default/partners', 'default/web', 'shop/payments']);
  });

  it('resolves an endpoint IP to its service, sending only the endpoint at that address', () => {
    const snap = buildSnapshot(index, { service: 'web', namespace: 'default' }, { kind: 'hosts', hosts: ['10.0.0.2:8080'] });
    const config = anyUnpack(snap.types.route.resources[0]?.resource as never, xdsRegistry) as RouteConfiguration;
    expect(config.virtualHosts.map((v) => [v.name, v.domains])).toEqual([['endpoint:10.0.0.2', ['10.0.0.2']]]);
    expect(config.virtualHosts[0]?.routes[0]?.action?.clusters.map((c) => c.name)).toEqual(['orders.default@10.0.0.2']);
    const assignment = anyUnpack(snap.types.endpoint.resources[0]?.resource as never, xdsRegistry) as ClusterLoadAssignment;
    expect(assignment.endpoints.map((e) => [e.nodeId, e.address, e.port, e.identity])).toEqual([['o2', '10.0.0.2', 15006, ordersId]]);
  });

  it('resolves no IP that is not an endpoint, or that endpoints of several services share', () => {
    const shared = buildMeshIndex(
      state(scopedMesh),
      [...endpoints, { ...(endpoints[0] as (typeof endpoints)[number]), nodeId: 'w1', service: 'web', labels: {} }],
      21,
      trust,
    );
    const snap = buildSnapshot(
      shared,
      { service: 'web', namespace: 'default' },
      { kind: 'hosts', hosts: ['10.0.0.9', '10.0.0.1', '10.0.0.2'] },
    );
    expect(vhosts(snap)).toEqual(['endpoint:10.0.0.2']);
    const v6 = buildMeshIndex(state(scopedMesh), [{ ...(endpoints[0] as (typeof endpoints)[number]), address: 'fd00::1' }], 22, trust);
    const byV6 = buildSnapshot(v6, { service: 'web', namespace: 'default' }, { kind: 'hosts', hosts: ['[fd00::1]:8080'] });
    const config = anyUnpack(byV6.types.route.resources[0]?.resource as never, xdsRegistry) as RouteConfiguration;
    expect(config.virtualHosts.map((v) => v.domains)).toEqual([['[fd00::1]']]);
  });

  it('gives nodes with the same view the same versions, and shares built pieces', () => {
    const a = buildSnapshot(index, { service: 'web', namespace: 'default' }, { kind: 'hosts', hosts: ['orders'] });
    const b = buildSnapshot(index, { service: 'api', namespace: 'default' }, { kind: 'hosts', hosts: ['orders', 'payments.shop'] });
    expect(b.types.cluster.resources.find((r) => r.name === 'orders.default~version=v1')?.version).toBe(
      a.types.cluster.resources.find((r) => r.name === 'orders.default~version=v1')?.version,
    );
  });
});
