// Which new traces are recorded: each with the configured probability, independently of the
// others. Rather than a random draw for every trace, the gap to the next sampled one is drawn,
// from the geometric distribution (what independent draws add up to), once per sampled trace:
// at 1 %, one draw per hundred requests instead of one each, about 100 instructions less per
// request through a sidecar pair (callgrind, bench/telemetry/README.md).
export class Sampler {
  readonly #rate: number;
  /** log(1 - rate), the scale of the gaps. */
  readonly #logMiss: number;
  /** Decisions left until the next sampled one, that one included. */
  #left: number;

  /** `rate`: the share sampled, 0–1. */
  constructor(rate: number) {
    this.#rate = rate;
    this.#logMiss = Math.log1p(-rate);
    this.#left = this.#gap();
  }

  /** Whether the next trace is sampled. */
  next(): boolean {
    if (--this.#left > 0) return false;
    this.#left = this.#gap();
    return true;
  }

  #gap(): number {
    if (this.#rate >= 1) return 1;
    if (!(this.#rate > 0)) return Number.POSITIVE_INFINITY;
    // 1 - Math.random() is in (0, 1], so its log is finite: a gap of at least 1.
    return 1 + Math.floor(Math.log(1 - Math.random()) / this.#logMiss);
  }
}
