// Trace context on the wire: W3C traceparent/tracestate, and B3 (single `b3` header or the
// x-b3-* family) accepted when no traceparent is present. Ids are lower-case hex, cut from a
// pool formatted in bulk from random bytes, so a request costs no syscall. Does not decide
// sampling policy.
import { HexPool } from '../http/hex-pool.ts';
import { UUID_LENGTH, UuidPool } from '../http/request-id.ts';

export interface IncomingTrace {
  readonly traceId: string;
  /** The caller's span, which becomes our span's parent. */
  readonly parentSpanId: string;
  /** Undefined when the caller made no decision (B3 without a sampled flag). */
  readonly sampled: boolean | undefined;
  readonly format: 'w3c' | 'b3-single' | 'b3-multi';
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** Where a traceparent's first 55 characters are checked: as bytes, a table lookup each. */
const scratch = Buffer.allocUnsafe(55);

/** Parses `traceparent` (version 00; future versions by their first four fields). */
export function parseTraceparent(value: string): IncomingTrace | undefined {
  if (value.length < 55) return undefined;
  const v = value.length === 55 ? value : value.trim();
  // Checked as bytes, not by charCodeAt (which V8 dispatches on the string's kind for every
  // character): in-process about 2× faster. Written as UTF-8, so a character beyond ASCII
  // becomes bytes of 0x80 and up, which are not hex; a short write is not a traceparent.
  if (v.length < 55 || scratch.write(v, 0, 55, 'utf8') !== 55) return undefined;
  const b = scratch;
  if (b[2] !== 45 || b[35] !== 45 || b[52] !== 45) return undefined;
  // Lower-case hex where the fields are, and ids not all zero.
  if (hexRun(b, 0, 2) < 0 || hexRun(b, 53, 55) < 0) return undefined;
  if (hexRun(b, 3, 35) <= 0 || hexRun(b, 36, 52) <= 0) return undefined;
  const version = hexDigit(b[0] as number) * 16 + hexDigit(b[1] as number);
  if (version === 0xff || (version === 0 && v.length !== 55)) return undefined;
  const flags = hexDigit(b[54] as number);
  return { traceId: traceparentTraceId(v), parentSpanId: traceparentSpanId(v), sampled: (flags & 1) === 1, format: 'w3c' };
}

function hexDigit(c: number): number {
  return c <= 57 ? c - 48 : c - 87;
}

/** Per byte: 0 not lower-case hex, 1 '0', 3 any other hex digit. */
const HEX_CLASS = new Uint8Array(256);
for (let c = 48; c <= 57; c++) HEX_CLASS[c] = c === 48 ? 1 : 3;
for (let c = 97; c <= 102; c++) HEX_CLASS[c] = 3;

/** Whether bytes[from, to) are lower-case hex: -1 if not, else 1 when some digit is not
 * zero and 0 when all are. Ids are random, so a branch per character (digit or letter?)
 * would be mispredicted about every other character: the classes are combined instead. */
function hexRun(bytes: Uint8Array, from: number, to: number): number {
  let all = 3;
  let any = 0;
  for (let i = from; i < to; i++) {
    const k = HEX_CLASS[bytes[i] as number] as number;
    all &= k;
    any |= k;
  }
  return all === 0 ? -1 : any === 3 ? 1 : 0;
}

/** Parses a single `b3` header: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]. */
export function parseB3Single(value: string): IncomingTrace | undefined {
  const parts = value.trim().toLowerCase().split('-');
  if (parts.length < 2) return undefined;
  const traceId = padTraceId(parts[0] as string);
  const spanId = parts[1] as string;
  if (!traceId || spanId.length !== 16 || !HEX.test(spanId) || spanId === ZERO_SPAN) return undefined;
  return { traceId, parentSpanId: spanId, sampled: b3Sampled(parts[2]), format: 'b3-single' };
}

/** Parses the x-b3-traceid / x-b3-spanid / x-b3-sampled (or x-b3-flags: 1) family. */
export function parseB3Multi(
  traceIdValue: string,
  spanIdValue: string | undefined,
  sampledValue: string | undefined,
): IncomingTrace | undefined {
  const traceId = padTraceId(traceIdValue.trim().toLowerCase());
  const spanId = spanIdValue?.trim().toLowerCase();
  if (!traceId || !spanId || spanId.length !== 16 || !HEX.test(spanId) || spanId === ZERO_SPAN) return undefined;
  return { traceId, parentSpanId: spanId, sampled: b3Sampled(sampledValue), format: 'b3-multi' };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

function padTraceId(id: string): string | undefined {
  if ((id.length !== 16 && id.length !== 32) || !HEX.test(id)) return undefined;
  const padded = id.length === 16 ? `0000000000000000${id}` : id;
  return padded === ZERO_TRACE ? undefined : padded;
}

function b3Sampled(flag: string | undefined): boolean | undefined {
  if (flag === undefined || flag === '') return undefined;
  const f = flag.trim().toLowerCase();
  if (f === '1' || f === 'd' || f === 'true') return true;
  if (f === '0' || f === 'false') return false;
  return undefined;
}

// A new trace's traceparent is cut from a pool of them, formatted in bulk from random bytes:
// one slice per request, no syscall and no concatenation. Put together per request, the
// value was a tree of five pieces (two of them slices) that the codec then flattened to
// write it; in-process, cutting it whole made the outbound hop's telemetry about 0.15 µs
// (a fifth) cheaper, the head's rendering and write included (under load, within the
// telemetry bench's noise: bench/telemetry/README.md).
const ENTRY = 55; // 00-{32 hex trace id}-{16 hex span id}-00
const traceparents = new HexPool(ENTRY, 128, (b, o) => {
  b[o] = 48; // 0
  b[o + 1] = 48;
  b[o + 2] = 45; // -
  b[o + 35] = 45;
  b[o + 52] = 45;
  b[o + 53] = 48;
  b[o + 54] = 48;
});

/** Where the next pooled entry starts in `traceparents.text`. An all-zero id is invalid
 * (W3C) and skipped: a random id's first character is rarely '0', so the check ends there. */
function nextEntry(): number {
  for (;;) {
    const o = traceparents.next();
    const text = traceparents.text;
    if (!text.startsWith(ZERO_TRACE, o + 3) && !text.startsWith(ZERO_SPAN, o + 36)) return o;
  }
}

/** A new trace, not sampled: `00-{trace id}-{span id}-00`, a flat value for the wire. Its ids
 * are traceparentTraceId() and traceparentSpanId() of it. */
export function newTraceparent(): string {
  const o = nextEntry();
  return traceparents.text.slice(o, o + ENTRY);
}

/** The trace id of a well-formed traceparent. */
export function traceparentTraceId(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/** The span id (the parent, to whoever receives it) of a well-formed traceparent. */
export function traceparentSpanId(traceparent: string): string {
  return traceparent.slice(36, 52);
}

/** A span id for this hop, when it continues a caller's trace. */
export function newSpanId(): string {
  const o = nextEntry();
  return traceparents.text.slice(o + 36, o + 52);
}

// A trace the mesh starts and does not sample rides between sidecars inside its request id
// instead of a traceparent of its own: one header less to render, encrypt and parse into
// strings on every mesh hop, about 1 % of a loaded pair's CPU (bench/telemetry/README.md,
// stop 18). The outbound sidecar makes the request's x-request-id a version-8 UUID (RFC
// 9562's layout for vendor-defined bits: here 122 random ones) and sends no trace headers;
// the next sidecar reads the trace from it: the trace id is the UUID's 32 hex digits, the
// caller's span id their last 16, not sampled. (Envoy likewise marks its trace decision in
// x-request-id's version digit.)
const UUID = UUID_LENGTH; // xxxxxxxx-xxxx-8xxx-Vxxx-xxxxxxxxxxxx
const traceRequestIds = new UuidPool(8);

/** An x-request-id that carries a new, unsampled trace (see above); never all zero. */
export function newTraceRequestId(): string {
  return traceRequestIds.next();
}

/** Buffer's own latin1 methods: write() and toString() call them after checking their
 * arguments and looking the encoding up by name, which for the two calls of a derived
 * traceparent was about 800 instructions of the 2,600 it took (callgrind). They are not in
 * Node's documentation, so each falls back to the documented call. */
interface Latin1Methods {
  latin1Write(value: string, offset: number, length: number): number;
  latin1Slice(start: number, end: number): string;
}
const own = Buffer.prototype as unknown as Partial<Latin1Methods>;
const writeLatin1: (into: Buffer, value: string, length: number) => void =
  typeof own.latin1Write === 'function'
    ? (into, value, length) => (into as unknown as Latin1Methods).latin1Write(value, 0, length)
    : (into, value, length) => into.write(value, 0, length, 'latin1');
const latin1Text: (of: Buffer, length: number) => string =
  typeof own.latin1Slice === 'function'
    ? (of, length) => (of as unknown as Latin1Methods).latin1Slice(0, length)
    : (of, length) => of.toString('latin1', 0, length);

const derived = Buffer.allocUnsafe(ENTRY);
derived.write('00-', 0, 'latin1');
derived[35] = 45;
derived.write('-00', 52, 'latin1');

/** Whether a request id has the shape newTraceRequestId() gives (its length and version
 * digit: the rest is checked where it is read, by traceparentFromRequestId). */
export function isTraceRequestId(requestId: string): boolean {
  return requestId.length === UUID && requestId.charCodeAt(14) === 56; /* 8 */
}

/** The trace an x-request-id made by newTraceRequestId() carries, as its traceparent
 * (`00-{the 32 hex digits}-{their last 16}-00`); undefined for any other request id. */
export function traceparentFromRequestId(requestId: string): string | undefined {
  if (!isTraceRequestId(requestId)) return undefined;
  // Written as latin1, one byte per character as header values arrive. What this returns is
  // made of the bytes checked here, so it is hex whatever the value held (a character beyond
  // 0xFF, which only code could make, counts as its low byte). parseTraceparent needs UTF-8
  // for the slices it returns; here it converted every value, about 230 instructions more.
  writeLatin1(scratch, requestId, UUID);
  const b = scratch;
  if (b[8] !== 45 || b[13] !== 45 || b[18] !== 45 || b[23] !== 45) return undefined;
  // The UUID's runs of digits are copied into place as they are checked, one loop per run
  // (a loop over all 36 characters that asked of each where it goes was about 50 ns slower
  // in-process): all 32 make the trace id, the last 16 (from character 19) the span id too.
  // A span id not all zero makes the trace id not all zero.
  let all = 3;
  for (let i = 0; i < 8; i++) all &= copied(b[i] as number, 3 + i);
  for (let i = 9; i < 13; i++) all &= copied(b[i] as number, 2 + i);
  for (let i = 14; i < 18; i++) all &= copied(b[i] as number, 1 + i);
  let span = 0;
  for (let i = 19; i < 23; i++) {
    const k = copied(b[i] as number, i);
    derived[17 + i] = b[i] as number;
    all &= k;
    span |= k;
  }
  for (let i = 24; i < UUID; i++) {
    const k = copied(b[i] as number, i - 1);
    derived[16 + i] = b[i] as number;
    all &= k;
    span |= k;
  }
  // Lower-case hex throughout, and neither id all zero.
  if (all === 0 || span !== 3) return undefined;
  return latin1Text(derived, ENTRY);
}

/** Puts byte `c` at `at` in the traceparent being derived; returns its class (HEX_CLASS). */
function copied(c: number, at: number): number {
  derived[at] = c;
  return HEX_CLASS[c] as number;
}
