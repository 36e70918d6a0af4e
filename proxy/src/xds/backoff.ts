// Reconnect delays for the discovery stream: full-jitter backoff (resilience/backoff.ts)
// with the attempt counter it needs, so many sidecars that lost the same control plane
// do not all come back in the same instant.
import { type BackoffOptions, fullJitterDelayMs } from '../resilience/backoff.ts';

export type { BackoffOptions };

export class Backoff {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  next(): number {
    this.#attempt = Math.min(this.#attempt + 1, 31);
    return fullJitterDelayMs(this.#attempt, this.#options, this.#random);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
