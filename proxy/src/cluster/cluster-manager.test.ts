// The cluster manager across a route switch, in the order the control plane sends it:
// clusters, endpoints, then routes. Requests still on the old routes in between must find
// their cluster and its endpoints (found as a flake: 503 UH under load during a switch).
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPools } from '../upstream/upstream-pools.ts';
import type { ClusterSpec, EndpointSpec } from './cluster.ts';
import { ClusterManager } from './cluster-manager.ts';

const pools = new UpstreamPools({ connectTimeoutMs: 100, keepAliveTimeoutMs: 1000 });
afterEach(() => pools.close());

function spec(name: string): ClusterSpec {
  return {
    name,
    service: 'orders',
    namespace: 'default',
    lbPolicy: 'round-robin',
    hashKey: undefined,
    panicThresholdPercent: 0,
    pool: { connectTimeoutMs: 100, idleTimeoutMs: 1000, maxConnections: 0, maxPendingRequests: 0, maxRequestsPerConnection: 0 },
    circuitBreakers: { maxConnections: 0, maxPendingRequests: 0, maxRequests: 0, maxRetries: 0 },
    outlierDetection: undefined,
    retryBudget: undefined,
  };
}

const endpoint = (address: string): EndpointSpec => ({ address, labels: {}, nodeId: address, weight: 1, identity: '' });
const addresses = (manager: ClusterManager, name: string) => manager.get(name)?.hosts.map((h) => h.address);

describe('ClusterManager during a route switch', () => {
  it('keeps a cluster the current routes name, with its endpoints, until the routes move on', () => {
    const manager = new ClusterManager(pools, pino({ level: 'silent' }));
    manager.setClusters([spec('v1')]);
    manager.setEndpoints(new Map([['v1', [endpoint('10.0.0.1:15006')]]]));
    manager.setReferenced(new Set(['v1']));

    // The switch to v2: clusters, then endpoints; the routes still say v1.
    manager.setClusters([spec('v2')]);
    manager.setEndpoints(new Map([['v2', [endpoint('10.0.0.2:15006')]]]));
    expect(addresses(manager, 'v1')).toEqual(['10.0.0.1:15006']);
    expect(manager.get('v1')?.lb.pick(-1, undefined)?.address).toBe('10.0.0.1:15006');
    expect(addresses(manager, 'v2')).toEqual(['10.0.0.2:15006']);

    // Routes now say v2: v1 goes.
    manager.setReferenced(new Set(['v2']));
    expect(manager.get('v1')).toBeUndefined();
    expect(addresses(manager, 'v2')).toEqual(['10.0.0.2:15006']);
    manager.close();
  });

  it('empties a cluster the control plane still sends when its endpoints stop coming (state of the world)', () => {
    const manager = new ClusterManager(pools, pino({ level: 'silent' }));
    manager.setClusters([spec('v1')]);
    manager.setEndpoints(new Map([['v1', [endpoint('10.0.0.1:15006')]]]));
    manager.setEndpoints(new Map());
    expect(addresses(manager, 'v1')).toEqual([]);
    manager.close();
  });
});
