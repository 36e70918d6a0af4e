// Passive health checking for one cluster, in Envoy's split: callers report what each
// attempt did per host (a status, or a failure without a response); the detector decides
// who is ejected and for how long.
//
// - Consecutive 5xx / consecutive gateway errors eject at once, when the count is reached.
//   Failures without a response (connect failure, reset, timeout) count as both, as in
//   Envoy without split_external_local_origin_errors.
// - Every interval: ejected hosts whose time is up return; hosts that stayed healthy for a
//   base ejection time since returning lose one step of their ejection multiplier; and,
//   when configured, hosts whose success rate in the interval is below
//   mean − stdevFactor·stdev are ejected.
// - An ejection lasts baseEjectionTime × (times ejected in a row), capped at maxEjectionTime.
// - At most maxEjectionPercent of the hosts are ejected at once, but one host always may be.
// The load balancer skips ejected hosts (and ignores ejections below the panic threshold).
import type { Host } from './host.ts';

export interface SuccessRateSpec {
  readonly minimumHosts: number;
  readonly requestVolume: number;
  readonly stdevFactor: number;
}

export interface OutlierDetectionSpec {
  /** 0 disables. */
  readonly consecutive5xx: number;
  /** 0 disables. */
  readonly consecutiveGatewayErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly successRate: SuccessRateSpec | undefined;
}

export type EjectionReason = 'consecutive-5xx' | 'consecutive-gateway-errors' | 'success-rate';

export type OutlierEvent =
  | { readonly kind: 'ejected'; readonly host: string; readonly reason: EjectionReason; readonly forMs: number; readonly ejections: number }
  | { readonly kind: 'returned'; readonly host: string }
  | { readonly kind: 'ejection-skipped'; readonly host: string; readonly reason: EjectionReason; readonly ejected: number };

/** Per-host state; the detector's alone. */
export class HostHealth {
  ejected = false;
  ejectedAt = 0;
  ejectedForMs = 0;
  returnedAt = 0;
  /** Ejections in a row (the multiplier of the base ejection time). */
  ejections = 0;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** Success-rate counts for the current interval. */
  requests = 0;
  successes = 0;
}

export class OutlierDetector {
  #spec: OutlierDetectionSpec | undefined;
  #hosts: readonly Host[] = [];
  #ejected = 0;
  readonly #now: () => number;
  readonly #onEvent: (event: OutlierEvent) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    spec: OutlierDetectionSpec | undefined,
    onEvent: (event: OutlierEvent) => void = () => {},
    now: () => number = performance.now.bind(performance),
  ) {
    this.#spec = spec;
    this.#onEvent = onEvent;
    this.#now = now;
  }

  get spec(): OutlierDetectionSpec | undefined {
    return this.#spec;
  }

  /** Hosts currently ejected among the cluster's hosts. */
  get ejectedCount(): number {
    return this.#ejected;
  }

  /** The cluster's hosts changed (membership or objects); ejection counts follow. */
  setHosts(hosts: readonly Host[]): void {
    this.#hosts = hosts;
    this.#ejected = hosts.reduce((n, h) => n + (h.health.ejected ? 1 : 0), 0);
  }

  /** A new spec: disabling detection returns every host at once. */
  configure(spec: OutlierDetectionSpec | undefined): void {
    const intervalChanged = spec?.intervalMs !== this.#spec?.intervalMs;
    this.#spec = spec;
    if (!spec) {
      for (const host of this.#hosts) if (host.health.ejected) this.#return(host, this.#now());
    }
    if (this.#timer && (intervalChanged || !spec)) this.stop();
  }

  /** Starts the interval timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.#timer || !this.#spec) return;
    this.#timer = setInterval(() => this.tick(), this.#spec.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** An attempt on `host` got a response with `status`. */
  reportStatus(host: Host, status: number): void {
    const spec = this.#spec;
    if (!spec) return;
    const h = host.health;
    h.requests += 1;
    if (status < 500) {
      h.successes += 1;
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      return;
    }
    h.consecutive5xx += 1;
    if (status >= 502 && status <= 504) h.consecutiveGateway += 1;
    else h.consecutiveGateway = 0;
    this.#checkConsecutive(host, spec);
  }

  /** An attempt on `host` got no response: connect failure, reset or timeout. */
  reportFailure(host: Host): void {
    const spec = this.#spec;
    if (!spec) return;
    const h = host.health;
    h.requests += 1;
    h.consecutive5xx += 1;
    h.consecutiveGateway += 1;
    this.#checkConsecutive(host, spec);
  }

  /** The interval sweep; public so tests drive it on their own clock. */
  tick(now: number = this.#now()): void {
    const spec = this.#spec;
    if (!spec) return;
    for (const host of this.#hosts) {
      const h = host.health;
      if (h.ejected) {
        if (now >= h.ejectedAt + h.ejectedForMs) this.#return(host, now);
      } else if (h.ejections > 0 && now - h.returnedAt >= spec.baseEjectionTimeMs) {
        h.ejections -= 1;
        h.returnedAt = now;
      }
    }
    if (spec.successRate) this.#successRateSweep(spec, spec.successRate, now);
    for (const host of this.#hosts) {
      host.health.requests = 0;
      host.health.successes = 0;
    }
  }

  #checkConsecutive(host: Host, spec: OutlierDetectionSpec): void {
    const h = host.health;
    if (h.ejected) return;
    if (spec.consecutiveGatewayErrors > 0 && h.consecutiveGateway >= spec.consecutiveGatewayErrors) {
      this.#eject(host, 'consecutive-gateway-errors', spec, this.#now());
    } else if (spec.consecutive5xx > 0 && h.consecutive5xx >= spec.consecutive5xx) {
      this.#eject(host, 'consecutive-5xx', spec, this.#now());
    }
  }

  #successRateSweep(spec: OutlierDetectionSpec, rate: SuccessRateSpec, now: number): void {
    const rates: number[] = [];
    const candidates: Host[] = [];
    for (const host of this.#hosts) {
      const h = host.health;
      if (h.ejected || h.requests < rate.requestVolume || h.requests === 0) continue;
      rates.push(h.successes / h.requests);
      candidates.push(host);
    }
    if (candidates.length < rate.minimumHosts || candidates.length === 0) return;
    const threshold = successRateThreshold(rates, rate.stdevFactor);
    candidates.forEach((host, i) => {
      if ((rates[i] as number) < threshold) this.#eject(host, 'success-rate', spec, now);
    });
  }

  #eject(host: Host, reason: EjectionReason, spec: OutlierDetectionSpec, now: number): void {
    const h = host.health;
    h.consecutive5xx = 0;
    h.consecutiveGateway = 0;
    if (!mayEject(this.#ejected, this.#hosts.length, spec.maxEjectionPercent)) {
      this.#onEvent({ kind: 'ejection-skipped', host: host.address, reason, ejected: this.#ejected });
      return;
    }
    h.ejections += 1;
    h.ejected = true;
    h.ejectedAt = now;
    h.ejectedForMs = ejectionTimeMs(spec, h.ejections);
    this.#ejected += 1;
    this.#onEvent({ kind: 'ejected', host: host.address, reason, forMs: h.ejectedForMs, ejections: h.ejections });
  }

  #return(host: Host, now: number): void {
    const h = host.health;
    h.ejected = false;
    h.returnedAt = now;
    h.consecutive5xx = 0;
    h.consecutiveGateway = 0;
    this.#ejected -= 1;
    this.#onEvent({ kind: 'returned', host: host.address });
  }
}

/** One more ejection keeps the ejected share within `maxPercent`, except that one host always may go. */
export function mayEject(ejected: number, hosts: number, maxPercent: number): boolean {
  if (ejected >= hosts) return false;
  return ejected === 0 || (ejected + 1) * 100 <= maxPercent * hosts;
}

/** base × ejections in a row, never more than max (nor less than base). */
export function ejectionTimeMs(spec: Pick<OutlierDetectionSpec, 'baseEjectionTimeMs' | 'maxEjectionTimeMs'>, ejections: number): number {
  return Math.min(spec.baseEjectionTimeMs * ejections, Math.max(spec.maxEjectionTimeMs, spec.baseEjectionTimeMs));
}

/** mean − factor·stdev over the hosts' success rates (population stdev, as Envoy). */
export function successRateThreshold(rates: readonly number[], stdevFactor: number): number {
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const variance = rates.reduce((sum, r) => sum + (r - mean) ** 2, 0) / rates.length;
  return mean - stdevFactor * Math.sqrt(variance);
}
