// Which timer an attempt runs under: the per-try timeout or what is left of the route's
// deadline, whichever ends first. Pure arithmetic on absolute times from one monotonic
// clock; the request owns the single timer (outbound/outbound-request.ts), so a request
// with neither configured creates none.

/** Why a request's timer fired. */
export type TimerKind = 'per-try' | 'route' | 'backoff';

export interface TimerChoice {
  readonly kind: 'per-try' | 'route';
  readonly ms: number;
}

/**
 * The timer for an attempt starting at `now`. `deadlineAt` is the route deadline (0: none),
 * `perTryMs` the per-try bound (0: none). Undefined when the attempt runs unbounded.
 */
export function attemptTimer(now: number, deadlineAt: number, perTryMs: number): TimerChoice | undefined {
  if (deadlineAt > 0) {
    const remaining = Math.max(deadlineAt - now, 0);
    if (perTryMs > 0 && perTryMs < remaining) return { kind: 'per-try', ms: perTryMs };
    return { kind: 'route', ms: remaining };
  }
  return perTryMs > 0 ? { kind: 'per-try', ms: perTryMs } : undefined;
}

/** Milliseconds a backoff may wait before the deadline makes the retry pointless (Infinity: no deadline). */
export function remainingMs(now: number, deadlineAt: number): number {
  return deadlineAt > 0 ? deadlineAt - now : Number.POSITIVE_INFINITY;
}
