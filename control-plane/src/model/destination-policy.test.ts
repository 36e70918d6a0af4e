import { describe, expect, it } from 'vitest';
import { formatConfigError } from './config-error.ts';
import { DEFAULT_DESTINATION_POLICY } from './defaults.ts';
import { effectivePolicy } from './destination-policy.ts';
import { parseMeshYaml } from './parse.ts';
import type { DestinationPolicyResource, MeshResource } from './resources.ts';
import { validateMesh } from './validate.ts';

const header = (kind: string, name: string) => `apiVersion: weft.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\n`;
const orders = `${header('Service', 'orders')}spec: {port: 80}\n`;

function parse(text: string): MeshResource[] {
  const result = parseMeshYaml(text, 'mesh.yaml');
  if (!result.ok) throw new Error(result.errors.map(formatConfigError).join('\n'));
  return result.documents.map((d) => d.resource);
}

function errorsOf(text: string): string[] {
  const result = parseMeshYaml(text, 'mesh.yaml');
  if (!result.ok) return result.errors.map(formatConfigError);
  const docs = new Map(result.documents.map((d) => [d.resource, d.document]));
  return validateMesh(
    result.documents.map((d) => d.resource),
    (r) => ({ file: 'mesh.yaml', document: docs.get(r) ?? 0 }),
  ).map(formatConfigError);
}

describe('DestinationPolicy', () => {
  it('parses every section, durations in ms', () => {
    const [, policy] = parse(`${orders}---
${header('DestinationPolicy', 'orders')}spec:
  service: orders
  loadBalancer: {policy: consistent-hash, consistentHash: {cookie: {name: session, ttl: 1h}}, panicThreshold: 30}
  connectionPool: {connectTimeout: 250ms, idleTimeout: 30s, maxConnections: 10, maxPendingRequests: 5, maxRequestsPerConnection: 100}
  circuitBreakers: {maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 5}
  outlierDetection: {consecutive5xx: 5, consecutiveGatewayErrors: 3, interval: 1s, baseEjectionTime: 10s, maxEjectionTime: 1m, maxEjectionPercent: 34, successRate: {}}
  retryBudget: {percent: 25, minRetriesPerSecond: 5, ttl: 5s}
`);
    expect((policy as DestinationPolicyResource).spec).toEqual({
      service: 'orders',
      subset: undefined,
      loadBalancer: {
        policy: 'consistent-hash',
        consistentHash: { cookie: { name: 'session', ttlMs: 3_600_000, path: '/' } },
        panicThreshold: 30,
      },
      connectionPool: {
        connectTimeoutMs: 250,
        idleTimeoutMs: 30_000,
        maxConnections: 10,
        maxPendingRequests: 5,
        maxRequestsPerConnection: 100,
      },
      circuitBreakers: { maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 5 },
      outlierDetection: {
        consecutive5xx: 5,
        consecutiveGatewayErrors: 3,
        intervalMs: 1000,
        baseEjectionTimeMs: 10_000,
        maxEjectionTimeMs: 60_000,
        maxEjectionPercent: 34,
        successRate: { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 },
      },
      retryBudget: { percent: 25, minRetriesPerSecond: 5, ttlMs: 5000 },
    });
  });

  it('names file, document and field for bad values', () => {
    expect(
      errorsOf(`${orders}---
${header('DestinationPolicy', 'orders')}spec:
  service: orders
  loadBalancer: {policy: random, consistentHash: {header: x-user, cookie: {name: s}}}
  outlierDetection: {maxEjectionPercent: 150, interval: soon}
  retryBudget: {ttl: 100ms}
  circuitBreakers: {maxRequests: -1, maxConections: 5}
`),
    ).toEqual([
      'mesh.yaml:11, document 2, DestinationPolicy default/orders: spec.loadBalancer.policy: Invalid option: expected one of "least-request"|"round-robin"|"consistent-hash"',
      'mesh.yaml:11, document 2, DestinationPolicy default/orders: spec.loadBalancer.consistentHash: give exactly one of header or cookie',
      'mesh.yaml:12, document 2, DestinationPolicy default/orders: spec.outlierDetection.interval: "soon" is not a duration (write it like 250ms, 2s or 1m)',
      'mesh.yaml:12, document 2, DestinationPolicy default/orders: spec.outlierDetection.maxEjectionPercent: Too big: expected number to be <=100',
      'mesh.yaml:13, document 2, DestinationPolicy default/orders: spec.retryBudget.ttl: ttl must be between 1000 ms and 60000 ms',
      'mesh.yaml:14, document 2, DestinationPolicy default/orders: spec.circuitBreakers.maxRequests: Too small: expected number to be >=0',
      'mesh.yaml:14, document 2, DestinationPolicy default/orders: spec.circuitBreakers.maxConections: unknown field',
    ]);
  });

  it('checks references and conflicts across documents', () => {
    expect(
      errorsOf(`${orders}---
${header('DestinationPolicy', 'a')}spec: {service: orders, loadBalancer: {policy: consistent-hash}}
---
${header('DestinationPolicy', 'b')}spec: {service: orders}
---
${header('DestinationPolicy', 'c')}spec: {service: payments}
---
${header('DestinationPolicy', 'd')}spec: {service: orders, subset: {v: '2'}, outlierDetection: {baseEjectionTime: 10m}}
`),
    ).toEqual([
      'mesh.yaml, document 3, DestinationPolicy default/b: spec.service: "orders" already has DestinationPolicy/default/a; one DestinationPolicy per destination',
      'mesh.yaml, document 4, DestinationPolicy default/c: spec.service: no Service "payments" in namespace "default"',
      'mesh.yaml, document 2, DestinationPolicy default/a: spec.loadBalancer.consistentHash: required with policy consistent-hash (here or in the service-wide DestinationPolicy)',
      'mesh.yaml, document 5, DestinationPolicy default/d: spec.loadBalancer.consistentHash: required with policy consistent-hash (here or in the service-wide DestinationPolicy)',
      'mesh.yaml, document 5, DestinationPolicy default/d: spec.outlierDetection.maxEjectionTime: 300000 ms is below baseEjectionTime (600000 ms) once merged',
    ]);
  });

  it('overlays defaults, then the service-wide policy, then the one for exactly this subset', () => {
    const policies = parse(`${header('DestinationPolicy', 'all')}spec:
  service: orders
  loadBalancer: {policy: consistent-hash, consistentHash: {header: x-user}}
  circuitBreakers: {maxRequests: 10}
---
${header('DestinationPolicy', 'v2')}spec:
  service: orders
  subset: {version: v2}
  circuitBreakers: {maxRetries: 3}
  outlierDetection: {consecutive5xx: 7}
`) as DestinationPolicyResource[];
    const v2 = effectivePolicy(policies, { version: 'v2' });
    expect(v2.loadBalancer).toEqual({ policy: 'consistent-hash', consistentHash: { header: 'x-user' }, panicThreshold: 50 });
    expect(v2.circuitBreakers).toEqual({ ...DEFAULT_DESTINATION_POLICY.circuitBreakers, maxRequests: 10, maxRetries: 3 });
    expect(v2.outlierDetection).toEqual({ ...DEFAULT_DESTINATION_POLICY.outlierDetection, consecutive5xx: 7 });
    // Another subset gets the service-wide policy only; no policy at all gets the defaults.
    expect(effectivePolicy(policies, { version: 'v1' }).circuitBreakers.maxRetries).toBe(0);
    expect(effectivePolicy([], {})).toEqual(DEFAULT_DESTINATION_POLICY);
  });
});
