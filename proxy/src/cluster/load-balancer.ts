// Picks the host for one attempt. Least-request with power of two choices is the default
// (Envoy's and Linkerd's): sample two usable hosts, take the one with fewer requests in
// flight. Round robin and consistent hashing (ring-hash.ts) on request.
//
// A host is usable when it is not ejected by the outlier detector and not in `avoid` (the
// hosts this request already tried, so a retry goes elsewhere when it can). When fewer
// than panicThresholdPercent of the hosts are un-ejected, ejections are ignored (panic
// mode, as Envoy: better to spread load over sick hosts than to crush the healthy few).
// `avoid` is relaxed before anything else: trying the same host again beats failing.
// Weights are not used yet (every endpoint carries weight 1).
import type { Host } from './host.ts';
import { HashRing } from './ring-hash.ts';

export type LbPolicy = 'least-request' | 'round-robin' | 'ring-hash';

export interface LoadBalancer {
  /** `hash` is the request's key hash for ring-hash (-1: none, pick at random). */
  pick(hash: number, avoid: readonly Host[] | undefined): Host | undefined;
}

export interface LbContext {
  readonly hosts: readonly Host[];
  /** Hosts ejected right now (the outlier detector's count). */
  ejectedCount(): number;
  readonly panicThresholdPercent: number;
}

export function createLoadBalancer(policy: LbPolicy, context: LbContext, random: () => number = Math.random): LoadBalancer {
  switch (policy) {
    case 'round-robin':
      return new RoundRobin(context, random);
    case 'ring-hash':
      return new RingHash(context, random);
    default:
      return new LeastRequest(context, random);
  }
}

/** Whether ejections count right now: not in panic. */
export function honoursEjection(context: LbContext): boolean {
  const ejected = context.ejectedCount();
  if (ejected === 0) return false;
  const n = context.hosts.length;
  return (n - ejected) * 100 >= context.panicThresholdPercent * n;
}

function usable(host: Host, honourEjection: boolean, avoid: readonly Host[] | undefined): boolean {
  return !(honourEjection && host.health.ejected) && !(avoid?.includes(host) ?? false);
}

/** First usable index scanning circularly from `from`, skipping `skip`; -1 if none. */
function scan(hosts: readonly Host[], from: number, skip: number, honourEjection: boolean, avoid: readonly Host[] | undefined): number {
  const n = hosts.length;
  for (let step = 0; step < n; step++) {
    const i = (from + step) % n;
    if (i !== skip && usable(hosts[i] as Host, honourEjection, avoid)) return i;
  }
  return -1;
}

class LeastRequest implements LoadBalancer {
  readonly #context: LbContext;
  readonly #random: () => number;

  constructor(context: LbContext, random: () => number) {
    this.#context = context;
    this.#random = random;
  }

  pick(_hash: number, avoid: readonly Host[] | undefined): Host | undefined {
    const hosts = this.#context.hosts;
    const n = hosts.length;
    if (n === 0) return undefined;
    const honour = honoursEjection(this.#context);
    let skipAvoid = avoid;
    let a = scan(hosts, Math.floor(this.#random() * n), -1, honour, skipAvoid);
    if (a < 0 && avoid) {
      skipAvoid = undefined;
      a = scan(hosts, Math.floor(this.#random() * n), -1, honour, undefined);
    }
    if (a < 0) return undefined;
    const b = n === 1 ? -1 : scan(hosts, Math.floor(this.#random() * n), a, honour, skipAvoid);
    const first = hosts[a] as Host;
    if (b < 0) return first;
    const second = hosts[b] as Host;
    return second.upstream.inflight < first.upstream.inflight ? second : first;
  }
}

class RoundRobin implements LoadBalancer {
  readonly #context: LbContext;
  #next: number;

  constructor(context: LbContext, random: () => number) {
    this.#context = context;
    this.#next = Math.floor(random() * Math.max(context.hosts.length, 1));
  }

  pick(_hash: number, avoid: readonly Host[] | undefined): Host | undefined {
    const hosts = this.#context.hosts;
    const n = hosts.length;
    if (n === 0) return undefined;
    const honour = honoursEjection(this.#context);
    let i = scan(hosts, this.#next % n, -1, honour, avoid);
    if (i < 0 && avoid) i = scan(hosts, this.#next % n, -1, honour, undefined);
    if (i < 0) return undefined;
    this.#next = i + 1;
    return hosts[i];
  }
}

class RingHash implements LoadBalancer {
  readonly #context: LbContext;
  readonly #random: () => number;
  readonly #ring: HashRing;
  // Per-pick state read by #usable, so the ring walk needs no closure per request.
  #honour = false;
  #avoid: readonly Host[] | undefined;

  constructor(context: LbContext, random: () => number) {
    this.#context = context;
    this.#random = random;
    this.#ring = new HashRing(context.hosts.map((h) => h.address));
  }

  pick(hash: number, avoid: readonly Host[] | undefined): Host | undefined {
    const hosts = this.#context.hosts;
    if (hosts.length === 0) return undefined;
    // No key: any usable host, as Envoy does without a hash.
    const key = hash >= 0 ? hash : Math.floor(this.#random() * 0x100000000);
    this.#honour = honoursEjection(this.#context);
    this.#avoid = avoid;
    let i = this.#ring.find(key, this.#usable);
    if (i < 0 && avoid) {
      this.#avoid = undefined;
      i = this.#ring.find(key, this.#usable);
    }
    this.#avoid = undefined;
    return i < 0 ? undefined : hosts[i];
  }

  readonly #usable = (owner: number): boolean => usable(this.#context.hosts[owner] as Host, this.#honour, this.#avoid);
}
