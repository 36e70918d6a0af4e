// One counter for every change to what sidecars should have: config commits and endpoint
// changes alike. Its value is the change id users see (`weft apply` prints it, `--wait`
// waits for it). It never goes backwards, also across restarts (see persisted-file.ts).
export class ChangeClock {
  #current: number;

  constructor(start = 0) {
    this.#current = start;
  }

  get current(): number {
    return this.#current;
  }

  next(): number {
    this.#current += 1;
    return this.#current;
  }

  /** Moves forward to at least `value` (when restoring persisted state). */
  advanceTo(value: number): void {
    if (value > this.#current) this.#current = value;
  }
}
