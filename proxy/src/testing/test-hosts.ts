// Hosts on real (never connected) upstream pools, for the cluster unit tests.
import { Host } from '../cluster/host.ts';
import { UpstreamPools } from '../upstream/upstream-pools.ts';

export function testHosts(count: number): { hosts: Host[]; close: () => Promise<void> } {
  const pools = new UpstreamPools({ connectTimeoutMs: 100, keepAliveTimeoutMs: 1000 });
  const hosts = Array.from(
    { length: count },
    (_, i) =>
      new Host(
        { address: `10.0.0.${i + 1}:15006`, labels: {}, nodeId: `n${i + 1}`, weight: 1, identity: '' },
        pools.acquire(`10.0.0.${i + 1}:15006`),
      ),
  );
  return { hosts, close: () => pools.close() };
}
