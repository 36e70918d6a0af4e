// Protobuf wire format for the message written per sampled request (a span, or a tap's
// event): into one buffer reused from message to message, each string written in place,
// the message copied out once. protobuf-es's BinaryWriter (which the batches keep) makes a
// TextEncoder array for every string field and a chunk for every run of bytes between
// them: 13–16 µs per span in-process, most of a traced request's telemetry. Values are
// what a span holds: non-negative integers below 2⁵³, strings, lower-case hex ids. As proto3
// writes its fields, one at its default (0, false, '') is left out.

const VARINT = 0;
const BIT64 = 1;
const LEN = 2;

export class SpanWriter {
  #buf = Buffer.allocUnsafeSlow(2048);
  #pos = 0;

  /** Starts a new message (whatever was written before is forgotten). */
  start(): void {
    this.#pos = 0;
  }

  /** Bytes of the message written since start(). */
  get length(): number {
    return this.#pos;
  }

  /** Copies the message written since start() into `target` at `at`; returns its length. */
  copyTo(target: Buffer, at: number): number {
    return this.#buf.copy(target, at, 0, this.#pos);
  }

  /** The message written since start(), as a copy the caller may keep (a tap's event: sent
   * within the turn; spans, which wait seconds for their batch, go to a SpanBuffer instead). */
  finish(): Uint8Array {
    // Copied into Buffer's pool: a message of its own memory (a new ArrayBuffer, as slice()
    // makes) cost a third of the time.
    const message = Buffer.allocUnsafe(this.#pos);
    this.#buf.copy(message, 0, 0, this.#pos);
    return message;
  }

  /** A non-negative number, rounded to an integer. */
  uint(field: number, value: number): void {
    const v = Math.round(value);
    if (v === 0) return;
    this.#room(20);
    this.#varint(field * 8 + VARINT);
    this.#varint(v);
  }

  bool(field: number, value: boolean): void {
    this.uint(field, value ? 1 : 0);
  }

  /** A fixed64 of `micros` × 1000 (nanoseconds), exact: micros < 2⁵³ but the product is not. */
  nanosFromMicros(field: number, micros: number): void {
    this.#room(20);
    this.#varint(field * 8 + BIT64);
    const high = Math.floor(micros / 2 ** 32);
    const low = (micros % 2 ** 32) * 1000;
    this.#buf.writeUInt32LE(low % 2 ** 32, this.#pos);
    this.#buf.writeUInt32LE(high * 1000 + Math.floor(low / 2 ** 32), this.#pos + 4);
    this.#pos += 8;
  }

  string(field: number, value: string): void {
    if (value === '') return;
    this.#room(20 + value.length * 3);
    this.#varint(field * 8 + LEN);
    if (value.length < 43) {
      // At most 126 bytes of UTF-8: the length fits the one byte kept for it. ASCII (labels,
      // addresses, ids) is copied here, a character at a time, which is several times
      // cheaper than a call into Buffer for a few bytes; anything else goes through it.
      const buf = this.#buf;
      const start = this.#pos + 1;
      let i = 0;
      for (; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      const n = i === value.length ? i : buf.write(value, start, 'utf8');
      buf[this.#pos] = n;
      this.#pos = start + n;
      return;
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.#varint(n);
    this.#pos += this.#buf.write(value, this.#pos, 'utf8');
  }

  /** Bytes given as lower-case hex, at most 127 of them (a trace or span id). */
  hexBytes(field: number, hex: string): void {
    if (hex === '') return;
    this.#room(20 + hex.length);
    this.#varint(field * 8 + LEN);
    const n = this.#buf.write(hex, this.#pos + 1, Math.min(hex.length >> 1, 127), 'hex');
    this.#buf[this.#pos] = n;
    this.#pos += 1 + n;
  }

  #varint(value: number): void {
    this.#pos = writeVarint(this.#buf, this.#pos, value);
  }

  #room(bytes: number): void {
    this.#buf = withRoom(this.#buf, this.#pos, bytes);
  }
}

/** Writes `value` (an integer from 0 to 2⁵³) as a protobuf varint at `at`; returns where it ends. */
export function writeVarint(buf: Buffer, at: number, value: number): number {
  let v = value;
  let i = at;
  while (v >= 0x80) {
    buf[i++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[i++] = v;
  return i;
}

/** `buf` if `bytes` more fit after its first `used`; else a buffer at least twice as large
 * with those `used` bytes copied in. */
export function withRoom(buf: Buffer<ArrayBuffer>, used: number, bytes: number): Buffer<ArrayBuffer> {
  if (used + bytes <= buf.length) return buf;
  const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, used + bytes));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}
