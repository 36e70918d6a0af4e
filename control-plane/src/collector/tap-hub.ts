// Live taps: a client (`weft tap`, the dashboard) subscribes with a service and filters;
// the hub asks every sidecar of that service to send matching requests, including
// sidecars that connect later, and stops them when the client leaves.
import { randomBytes } from 'node:crypto';
import type { RequestView } from './request-view.ts';

export interface TapFilter {
  readonly pathPrefix: string;
  readonly method: string;
  readonly statusMin: number;
  readonly statusMax: number;
  readonly direction: 'inbound' | 'outbound' | undefined;
}

export interface TapTarget {
  readonly service: string;
  readonly namespace: string;
}

/** A sidecar's stream, as the hub sees it. */
export interface TapSession extends TapTarget {
  startTap(id: string, filter: TapFilter, maxPerSecond: number): void;
  stopTap(id: string): void;
}

interface Tap {
  readonly id: string;
  readonly target: TapTarget;
  readonly filter: TapFilter;
  readonly maxPerSecond: number;
  readonly onEvent: (event: RequestView) => void;
  readonly onSkipped: (count: number) => void;
}

export class TapHub {
  readonly #taps = new Map<string, Tap>();
  readonly #sessions = new Set<TapSession>();

  /** Starts a tap; returns its stop function. */
  start(
    target: TapTarget,
    filter: TapFilter,
    maxPerSecond: number,
    onEvent: (event: RequestView) => void,
    onSkipped: (count: number) => void = () => {},
  ): () => void {
    const tap: Tap = { id: randomBytes(8).toString('hex'), target, filter, maxPerSecond, onEvent, onSkipped };
    this.#taps.set(tap.id, tap);
    for (const session of this.#sessions) if (matches(session, target)) session.startTap(tap.id, filter, maxPerSecond);
    return () => {
      if (!this.#taps.delete(tap.id)) return;
      for (const session of this.#sessions) if (matches(session, target)) session.stopTap(tap.id);
    };
  }

  /** A sidecar connected: it gets every tap that targets its service. */
  join(session: TapSession): void {
    this.#sessions.add(session);
    for (const tap of this.#taps.values()) if (matches(session, tap.target)) session.startTap(tap.id, tap.filter, tap.maxPerSecond);
  }

  leave(session: TapSession): void {
    this.#sessions.delete(session);
  }

  deliver(tapId: string, events: readonly RequestView[], skipped: number): void {
    const tap = this.#taps.get(tapId);
    if (!tap) return;
    for (const event of events) tap.onEvent(event);
    if (skipped > 0) tap.onSkipped(skipped);
  }

  get active(): number {
    return this.#taps.size;
  }
}

function matches(session: TapTarget, target: TapTarget): boolean {
  return session.service === target.service && session.namespace === target.namespace;
}
