// Exponential backoff with full jitter (AWS architecture blog's "full jitter"): the n-th
// delay is uniform in [0, min(max, base·2ⁿ)], so many sidecars that lost the same control
// plane do not all come back in the same instant.
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

export class Backoff {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  next(): number {
    const ceiling = Math.min(this.#options.maxMs, this.#options.baseMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return Math.round(this.#random() * ceiling);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
