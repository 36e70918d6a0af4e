// Random hex cut from a pool instead of made per request: `count` entries of `length`
// characters at a time, formatted in bulk from one randomFillSync() (no syscall per id, no
// string put together per id), each entry's fixed characters (dashes, a version digit)
// written over the random hex. The request ids (request-id.ts) and telemetry's traceparents
// and trace ids (trace-context.ts) are cut from pools of these.
import { randomFillSync } from 'node:crypto';

export class HexPool {
  readonly #length: number;
  readonly #count: number;
  readonly #fixed: (entries: Buffer, at: number) => void;
  readonly #formatted: Buffer;
  readonly #random: Buffer;
  #text = '';
  #next: number;

  /** `fixed` writes an entry's fixed characters over its random hex, the entry at `at`. */
  constructor(length: number, count: number, fixed: (entries: Buffer, at: number) => void) {
    this.#length = length;
    this.#count = count;
    this.#fixed = fixed;
    this.#formatted = Buffer.allocUnsafe(length * count);
    this.#random = Buffer.allocUnsafe((length * count) / 2);
    this.#next = count;
  }

  /** Where the next entry starts in `text` (read `text` after this call: a refill renews it). */
  next(): number {
    if (this.#next === this.#count) this.#refill();
    return this.#next++ * this.#length;
  }

  /** The entries formatted last: every character not fixed is a hex digit of random bytes. */
  get text(): string {
    return this.#text;
  }

  #refill(): void {
    const formatted = this.#formatted;
    randomFillSync(this.#random);
    formatted.write(this.#random.toString('hex'), 0, 'latin1');
    for (let at = 0; at < formatted.length; at += this.#length) this.#fixed(formatted, at);
    this.#text = formatted.toString('latin1');
    this.#next = 0;
  }
}
