// The spans finished since the last batch was cut, kept as the bytes the batch will carry:
// each one framed as the Batch's repeated `spans` field (tag, length, message), one after
// another in a single buffer that is kept from batch to batch.
//
// Why not a Uint8Array per span: those come from Buffer's shared 8 KB slabs, and a span waits
// for its batch (seconds) long enough to be promoted with its slab. Under load, 1 % of
// requests traced so made V8 run a full mark-compact every ~7 s in each sidecar (none with
// spans kept here), which cost a loaded sidecar pair about 2 % of its throughput
// (bench/telemetry/README.md, stop 22). One long-lived buffer promotes nothing per span.
import { type SpanWriter, withRoom, writeVarint } from './span-writer.ts';

/** weft.telemetry.v1.Batch.spans: field 6, length-delimited. */
const SPANS_TAG = (6 << 3) | 2;
/** What the buffer starts at, and never shrinks below: about 100 spans. */
const INITIAL_BYTES = 64 * 1024;

export class SpanBuffer {
  #buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  #pos = 0;
  #count = 0;

  /** Spans held. */
  get count(): number {
    return this.#count;
  }

  /** Adds the message `writer` holds, framed as a batch's span. */
  append(writer: SpanWriter): void {
    const length = writer.length;
    const buf = withRoom(this.#buf, this.#pos, length + 11);
    this.#buf = buf;
    buf[this.#pos] = SPANS_TAG;
    const at = writeVarint(buf, this.#pos + 1, length);
    this.#pos = at + writer.copyTo(buf, at);
    this.#count += 1;
  }

  /** The framed spans: a view valid until the next append or clear (copy it before). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  /** Forgets the spans held. A buffer a burst grew to four times what it held is given back. */
  clear(): void {
    if (this.#buf.length > INITIAL_BYTES && this.#pos * 4 < this.#buf.length) {
      this.#buf = Buffer.allocUnsafeSlow(Math.max(INITIAL_BYTES, this.#pos * 2));
    }
    this.#pos = 0;
    this.#count = 0;
  }
}
