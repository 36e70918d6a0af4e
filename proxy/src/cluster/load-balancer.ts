// Picks an endpoint of a cluster. Least-request with power of two choices (the default,
// as in Envoy and Linkerd): sample two endpoints, take the one with fewer requests in
// flight. Round robin when configured.
import type { Upstream } from '../upstream/upstream-pools.ts';

export type LbPolicy = 'least-request' | 'round-robin';

export interface Endpoint {
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeId: string;
  readonly weight: number;
  readonly identity: string;
  readonly upstream: Upstream;
}

export interface LoadBalancer {
  pick(): Endpoint | undefined;
}

export function createLoadBalancer(policy: LbPolicy, endpoints: readonly Endpoint[]): LoadBalancer {
  if (endpoints.length === 0) return { pick: () => undefined };
  if (endpoints.length === 1) {
    const only = endpoints[0] as Endpoint;
    return { pick: () => only };
  }
  return policy === 'round-robin' ? roundRobin(endpoints) : leastRequest(endpoints);
}

function roundRobin(endpoints: readonly Endpoint[]): LoadBalancer {
  let next = Math.floor(Math.random() * endpoints.length);
  return {
    pick() {
      next = (next + 1) % endpoints.length;
      return endpoints[next];
    },
  };
}

function leastRequest(endpoints: readonly Endpoint[]): LoadBalancer {
  const n = endpoints.length;
  return {
    pick() {
      const i = Math.floor(Math.random() * n);
      let j = Math.floor(Math.random() * (n - 1));
      if (j >= i) j += 1;
      const a = endpoints[i] as Endpoint;
      const b = endpoints[j] as Endpoint;
      return b.upstream.inflight < a.upstream.inflight ? b : a;
    },
  };
}
