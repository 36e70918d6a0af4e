import { create } from '@bufbuild/protobuf';
import { ClusterSchema, LbPolicy } from '@weft/proto';
import { describe, expect, it } from 'vitest';
import { toClusterSpec } from './cluster.ts';
import { Problems } from './problems.ts';

function convert(init: Parameters<typeof create<typeof ClusterSchema>>[1]) {
  const problems = new Problems();
  const spec = toClusterSpec(create(ClusterSchema, { name: 'orders.default', service: 'orders', namespace: 'default', ...init }), problems);
  return { spec, problems: problems.summary(50) };
}

describe('toClusterSpec', () => {
  it('reads absent sections as off or unlimited, with the pool defaults proto cannot carry', () => {
    const { spec, problems } = convert({});
    expect(problems).toBe('');
    expect(spec).toMatchObject({
      lbPolicy: 'least-request',
      hashKey: undefined,
      panicThresholdPercent: 0,
      pool: { connectTimeoutMs: 1000, idleTimeoutMs: 60_000, maxConnections: 0, maxPendingRequests: 0, maxRequestsPerConnection: 0 },
      circuitBreakers: { maxConnections: 0, maxPendingRequests: 0, maxRequests: 0, maxRetries: 0 },
      outlierDetection: undefined,
      retryBudget: undefined,
    });
  });

  it('converts every section', () => {
    const { spec, problems } = convert({
      lbPolicy: LbPolicy.RING_HASH,
      hashPolicy: { key: { case: 'cookie', value: { name: 'session', ttlMs: 3_600_000, path: '' } } },
      panicThresholdPercent: 50,
      connectTimeoutMs: 250,
      connectionPool: { idleTimeoutMs: 5000, maxConnections: 10, maxPendingRequests: 20, maxRequestsPerConnection: 100 },
      circuitBreakers: { maxConnections: 1, maxPendingRequests: 2, maxRequests: 3, maxRetries: 4 },
      outlierDetection: {
        consecutive5xx: 5,
        consecutiveGatewayErrors: 3,
        intervalMs: 500,
        baseEjectionTimeMs: 1000,
        maxEjectionTimeMs: 0,
        maxEjectionPercent: 34,
        successRate: { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 },
      },
      retryBudget: { percent: 20, minRetriesPerSecond: 10, ttlMs: 10_000 },
    });
    expect(problems).toBe('');
    expect(spec.hashKey).toEqual({ kind: 'cookie', name: 'session', ttlMs: 3_600_000, path: '/' });
    expect(spec.pool).toEqual({
      connectTimeoutMs: 250,
      idleTimeoutMs: 5000,
      maxConnections: 10,
      maxPendingRequests: 20,
      maxRequestsPerConnection: 100,
    });
    expect(spec.outlierDetection).toMatchObject({ consecutive5xx: 5, maxEjectionTimeMs: 1000, successRate: { stdevFactor: 1.9 } });
    expect(spec.retryBudget).toEqual({ percent: 20, minRetriesPerSecond: 10, ttlMs: 10_000 });
  });

  it('names every bad field, so the NACK says what to fix', () => {
    const { problems } = convert({
      lbPolicy: LbPolicy.RING_HASH,
      panicThresholdPercent: 101,
      outlierDetection: {
        intervalMs: 0,
        baseEjectionTimeMs: 1000,
        maxEjectionTimeMs: 10,
        maxEjectionPercent: 200,
        successRate: { stdevFactor: 0 },
      },
      retryBudget: { percent: -1, ttlMs: 100 },
    });
    for (const field of [
      'panic_threshold_percent: at most 100',
      'hash_policy: required with LB_POLICY_RING_HASH',
      'outlier_detection.interval_ms: at least 10',
      'outlier_detection.max_ejection_percent: at most 100',
      'outlier_detection.max_ejection_time_ms: must not be below base_ejection_time_ms',
      'outlier_detection.success_rate.stdev_factor: must be > 0',
      'outlier_detection.success_rate.minimum_hosts: at least 1',
      'retry_budget.percent: must be between 0 and 1000',
      'retry_budget.ttl_ms: must be between 1000 and 60000',
    ]) {
      expect(problems).toContain(`Cluster "orders.default": ${field}`);
    }
  });

  it('refuses a hash policy without consistent hashing, and bad header names', () => {
    expect(convert({ hashPolicy: { key: { case: 'header', value: 'x-user' } } }).problems).toContain(
      'hash_policy: only used with LB_POLICY_RING_HASH',
    );
    expect(convert({ lbPolicy: LbPolicy.RING_HASH, hashPolicy: { key: { case: 'header', value: 'X User' } } }).problems).toContain(
      'hash_policy.header: "X User" is not a lower-case header name',
    );
  });
});
