// Cluster (proto) → ClusterSpec, with every problem named by its field path. Absent
// sections mean "off" or "no limit" (the control plane always sends the effective policy);
// the few literal defaults here are the ones proto3 cannot express (0 = unset).
import { type Cluster, LbPolicy, type OutlierDetection } from '@weft/proto';
import type { ClusterSpec, HashKey } from '../../cluster/cluster.ts';
import type { LbPolicy as LbPolicyName } from '../../cluster/load-balancer.ts';
import type { OutlierDetectionSpec } from '../../cluster/outlier-detector.ts';
import type { Problems } from './problems.ts';

const DEFAULT_CONNECT_TIMEOUT_MS = 1000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function toClusterSpec(cluster: Cluster, problems: Problems): ClusterSpec {
  const where = `Cluster "${cluster.name}"`;
  const bad = (path: string, message: string) => problems.add(where, path, message);
  if (!cluster.name) bad('name', 'required');
  if (cluster.connectTimeoutMs > 60_000) bad('connect_timeout_ms', 'at most 60000');
  if (cluster.panicThresholdPercent > 100) bad('panic_threshold_percent', 'at most 100');

  const lbPolicy = toLbPolicy(cluster.lbPolicy, bad);
  const hashKey = toHashKey(cluster, lbPolicy, bad);

  const pool = cluster.connectionPool;
  const breakers = cluster.circuitBreakers;
  const budget = cluster.retryBudget;
  if (budget) {
    if (!Number.isFinite(budget.percent) || budget.percent < 0 || budget.percent > 1000)
      bad('retry_budget.percent', 'must be between 0 and 1000');
    if (budget.ttlMs < 1000 || budget.ttlMs > 60_000) bad('retry_budget.ttl_ms', 'must be between 1000 and 60000');
  }
  return {
    name: cluster.name,
    service: cluster.service,
    namespace: cluster.namespace,
    lbPolicy,
    hashKey,
    panicThresholdPercent: cluster.panicThresholdPercent,
    pool: {
      connectTimeoutMs: cluster.connectTimeoutMs || DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMs: pool?.idleTimeoutMs || DEFAULT_IDLE_TIMEOUT_MS,
      maxConnections: pool?.maxConnections ?? 0,
      maxPendingRequests: pool?.maxPendingRequests ?? 0,
      maxRequestsPerConnection: pool?.maxRequestsPerConnection ?? 0,
    },
    circuitBreakers: {
      maxConnections: breakers?.maxConnections ?? 0,
      maxPendingRequests: breakers?.maxPendingRequests ?? 0,
      maxRequests: breakers?.maxRequests ?? 0,
      maxRetries: breakers?.maxRetries ?? 0,
    },
    outlierDetection: cluster.outlierDetection ? toOutlierDetection(cluster.outlierDetection, bad) : undefined,
    retryBudget: budget ? { percent: budget.percent, minRetriesPerSecond: budget.minRetriesPerSecond, ttlMs: budget.ttlMs } : undefined,
  };
}

type Bad = (path: string, message: string) => void;

function toLbPolicy(policy: LbPolicy, bad: Bad): LbPolicyName {
  switch (policy) {
    case LbPolicy.UNSPECIFIED:
    case LbPolicy.LEAST_REQUEST:
      return 'least-request';
    case LbPolicy.ROUND_ROBIN:
      return 'round-robin';
    case LbPolicy.RING_HASH:
      return 'ring-hash';
    default:
      bad('lb_policy', `unknown load balancer ${policy}`);
      return 'least-request';
  }
}

function toHashKey(cluster: Cluster, lbPolicy: LbPolicyName, bad: Bad): HashKey | undefined {
  const key = cluster.hashPolicy?.key;
  if (lbPolicy !== 'ring-hash') {
    if (key && key.case !== undefined) bad('hash_policy', 'only used with LB_POLICY_RING_HASH');
    return undefined;
  }
  switch (key?.case) {
    case 'header':
      if (!TOKEN.test(key.value)) bad('hash_policy.header', `"${key.value}" is not a lower-case header name`);
      return { kind: 'header', name: key.value };
    case 'cookie': {
      const cookie = key.value;
      if (!COOKIE_NAME.test(cookie.name)) bad('hash_policy.cookie.name', `"${cookie.name}" is not a cookie name`);
      if (cookie.path && !cookie.path.startsWith('/')) bad('hash_policy.cookie.path', 'must start with "/"');
      if (cookie.ttlMs > 0 && cookie.ttlMs < 1000) bad('hash_policy.cookie.ttl_ms', 'at least 1000 (Max-Age is in seconds)');
      return { kind: 'cookie', name: cookie.name, ttlMs: cookie.ttlMs, path: cookie.path || '/' };
    }
    default:
      bad('hash_policy', 'required with LB_POLICY_RING_HASH: a header or a cookie');
      return undefined;
  }
}

function toOutlierDetection(o: OutlierDetection, bad: Bad): OutlierDetectionSpec {
  const at = 'outlier_detection';
  if (o.intervalMs < 10) bad(`${at}.interval_ms`, 'at least 10');
  if (o.baseEjectionTimeMs < 1) bad(`${at}.base_ejection_time_ms`, 'at least 1');
  if (o.maxEjectionPercent > 100) bad(`${at}.max_ejection_percent`, 'at most 100');
  if (o.maxEjectionTimeMs > 0 && o.maxEjectionTimeMs < o.baseEjectionTimeMs)
    bad(`${at}.max_ejection_time_ms`, 'must not be below base_ejection_time_ms');
  const rate = o.successRate;
  if (rate) {
    if (!Number.isFinite(rate.stdevFactor) || rate.stdevFactor <= 0) bad(`${at}.success_rate.stdev_factor`, 'must be > 0');
    if (rate.minimumHosts < 1) bad(`${at}.success_rate.minimum_hosts`, 'at least 1');
    if (rate.requestVolume < 1) bad(`${at}.success_rate.request_volume`, 'at least 1');
  }
  return {
    consecutive5xx: o.consecutive5xx,
    consecutiveGatewayErrors: o.consecutiveGatewayErrors,
    intervalMs: o.intervalMs,
    baseEjectionTimeMs: o.baseEjectionTimeMs,
    maxEjectionTimeMs: o.maxEjectionTimeMs || o.baseEjectionTimeMs,
    maxEjectionPercent: o.maxEjectionPercent,
    successRate: rate ? { minimumHosts: rate.minimumHosts, requestVolume: rate.requestVolume, stdevFactor: rate.stdevFactor } : undefined,
  };
}
