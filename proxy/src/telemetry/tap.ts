// Live taps the control plane asked for (`weft tap`): each has a filter and a rate limit;
// matching requests queue here until the telemetry stream sends them. When no tap is
// active the request path pays one size check.
import type { Direction, RequestRecord } from './request-record.ts';

export interface TapSpec {
  readonly id: string;
  readonly pathPrefix: string;
  readonly method: string;
  readonly statusMin: number;
  readonly statusMax: number;
  readonly direction: Direction | undefined;
  readonly maxPerSecond: number;
}

class ActiveTap {
  readonly spec: TapSpec;
  pending: RequestRecord[] = [];
  skipped = 0;
  windowStart = 0;
  inWindow = 0;

  constructor(spec: TapSpec) {
    this.spec = spec;
  }
}

export interface TapDrain {
  readonly tapId: string;
  readonly events: readonly RequestRecord[];
  readonly skipped: number;
}

export class Taps {
  readonly #taps = new Map<string, ActiveTap>();
  readonly #onPending: () => void;
  /** Number of active taps; the request path reads only this when there are none. */
  count = 0;

  constructor(onPending: () => void) {
    this.#onPending = onPending;
  }

  start(spec: TapSpec): void {
    this.#taps.set(spec.id, new ActiveTap(spec));
    this.count = this.#taps.size;
  }

  stop(id: string): void {
    this.#taps.delete(id);
    this.count = this.#taps.size;
  }

  clear(): void {
    this.#taps.clear();
    this.count = 0;
  }

  offer(r: RequestRecord, nowMs: number): void {
    let queued = false;
    for (const tap of this.#taps.values()) {
      const f = tap.spec;
      if (f.direction !== undefined && f.direction !== r.direction) continue;
      if (f.method !== '' && f.method !== r.method) continue;
      if (f.pathPrefix !== '' && !r.path.startsWith(f.pathPrefix)) continue;
      if (f.statusMin > 0 && r.status < f.statusMin) continue;
      if (f.statusMax > 0 && r.status > f.statusMax) continue;
      if (nowMs - tap.windowStart >= 1000) {
        tap.windowStart = nowMs;
        tap.inWindow = 0;
      }
      if (tap.inWindow >= f.maxPerSecond) {
        tap.skipped += 1;
        continue;
      }
      tap.inWindow += 1;
      tap.pending.push(r);
      queued = true;
    }
    if (queued) this.#onPending();
  }

  drain(): TapDrain[] {
    const out: TapDrain[] = [];
    for (const tap of this.#taps.values()) {
      if (tap.pending.length === 0 && tap.skipped === 0) continue;
      out.push({ tapId: tap.spec.id, events: tap.pending, skipped: tap.skipped });
      tap.pending = [];
      tap.skipped = 0;
    }
    return out;
  }
}
