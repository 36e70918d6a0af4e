// Collapses bursts of changes into one push: waits `debounceMs` after the last change,
// but never longer than `maxDelayMs` after the first, so a steady trickle of endpoint
// churn cannot postpone a config change forever.
export class PushScheduler {
  readonly #push: () => void;
  readonly #debounceMs: number;
  readonly #maxDelayMs: number;
  #timer: NodeJS.Timeout | undefined;
  #firstAt = 0;

  constructor(push: () => void, options: { debounceMs: number; maxDelayMs: number }) {
    this.#push = push;
    this.#debounceMs = options.debounceMs;
    this.#maxDelayMs = options.maxDelayMs;
  }

  schedule(): void {
    const now = Date.now();
    if (this.#timer) clearTimeout(this.#timer);
    else this.#firstAt = now;
    const delay = Math.max(0, Math.min(this.#debounceMs, this.#firstAt + this.#maxDelayMs - now));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#push();
    }, delay);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
