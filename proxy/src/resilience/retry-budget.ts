// A retry budget per destination (Finagle's and Linkerd's design): over a sliding window of
// `ttlMs`, retries may add at most `percent` % of the original requests, plus a reserve of
// `minRetriesPerSecond` so a quiet client can still retry. When an upstream fails
// everything, the budget — not the per-route retry count — bounds the extra load.
// Pure bookkeeping on an injected clock; it does not decide *whether* a request should be
// retried (resilience/retry.ts does), only whether the destination can afford it.

export interface RetryBudgetSpec {
  /** Share of original requests that retries may add, in percent (20 → 1 retry per 5 requests). */
  readonly percent: number;
  readonly minRetriesPerSecond: number;
  readonly ttlMs: number;
}

/** The window is kept in this many buckets; requests expire one bucket at a time. */
const BUCKETS = 10;

export class RetryBudget {
  readonly spec: RetryBudgetSpec;
  readonly #now: () => number;
  readonly #bucketMs: number;
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #requestTotal = 0;
  #retryTotal = 0;
  /** Index (in bucket units since the clock's origin) of the newest bucket. */
  #head = 0;

  constructor(spec: RetryBudgetSpec, now: () => number = performance.now.bind(performance)) {
    this.spec = spec;
    this.#now = now;
    this.#bucketMs = Math.max(spec.ttlMs / BUCKETS, 1);
    this.#ratio = spec.percent / 100;
    this.#reserve = (spec.minRetriesPerSecond * spec.ttlMs) / 1000;
    this.#head = Math.floor(now() / this.#bucketMs);
  }

  /** Records an original request (first attempt). */
  deposit(): void {
    const slot = this.#advance();
    this.#requests[slot] = (this.#requests[slot] as number) + 1;
    this.#requestTotal += 1;
  }

  /** Takes one retry from the budget; false when the budget cannot afford it. */
  tryWithdraw(): boolean {
    const slot = this.#advance();
    if (this.#retryTotal + 1 > this.#reserve + this.#ratio * this.#requestTotal) return false;
    this.#retries[slot] = (this.#retries[slot] as number) + 1;
    this.#retryTotal += 1;
    return true;
  }

  /** Requests and retries in the current window, for /clusters. */
  get window(): { readonly requests: number; readonly retries: number } {
    this.#advance();
    return { requests: this.#requestTotal, retries: this.#retryTotal };
  }

  /** Expires buckets that fell out of the window; returns the slot of the current one. */
  #advance(): number {
    const index = Math.floor(this.#now() / this.#bucketMs);
    const elapsed = index - this.#head;
    if (elapsed > 0) {
      for (let i = 1; i <= Math.min(elapsed, BUCKETS); i++) {
        const slot = (this.#head + i) % BUCKETS;
        this.#requestTotal -= this.#requests[slot] as number;
        this.#retryTotal -= this.#retries[slot] as number;
        this.#requests[slot] = 0;
        this.#retries[slot] = 0;
      }
      this.#head = index;
    }
    return this.#head % BUCKETS;
  }
}
