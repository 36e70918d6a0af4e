import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { type ClusterLoadAssignment, type RouteConfiguration, xdsRegistry } from '@weft/proto';
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

const endpoints = [
  { nodeId: 'o1', service: 'orders', namespace: 'default', labels: { version: 'v1' }, address: '10.0.0.1', port: 15006 },
  { nodeId: 'o2', service: 'orders', namespace: 'default', labels: { version: 'v2' }, address: '10.0.0.2', port: 15006 },
];

describe('buildSnapshot', () => {
  const index = buildMeshIndex(state(mesh), endpoints, 9);
  const snap = buildSnapshot(index, { service: 'web', namespace: 'default' });
  const unpack = <T>(type: 'route' | 'endpoint') => snap.types[type].resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as T);

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
    const again = buildSnapshot(buildMeshIndex(state(mesh), endpoints, 10), { service: 'web', namespace: 'default' });
    expect(again.types.route.version).toBe(snap.types.route.version);
    expect(again.changeId).toBe(10);
    const fewer = buildSnapshot(buildMeshIndex(state(mesh), endpoints.slice(0, 1), 11), { service: 'web', namespace: 'default' });
    expect(fewer.types.endpoint.version).not.toBe(snap.types.endpoint.version);
    expect(fewer.types.route.version).toBe(snap.types.route.version);
  });

  it('uses short names only within the same namespace', () => {
    const other = buildSnapshot(index, { service: 'web', namespace: 'shop' });
    const [config] = other.types.route.resources.map((r) => anyUnpack(r.resource as never, xdsRegistry) as RouteConfiguration);
    expect(config?.virtualHosts.find((v) => v.name === 'default/orders')?.domains).not.toContain('orders');
  });
});
