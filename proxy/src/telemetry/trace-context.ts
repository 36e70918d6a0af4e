// Trace context on the wire: W3C traceparent/tracestate, and B3 (single `b3` header or the
// x-b3-* family) accepted when no traceparent is present. Ids are lower-case hex, cut from a
// pool formatted in bulk from random bytes, so a request costs no syscall. Does not decide
// sampling policy.
import { HexPool } from '../http/hex-pool.ts';

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

/** Where a traceparent's first 55 characters (or a request id's 32) are checked: as bytes, a
 * table lookup each. */
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

// A trace the mesh starts and does not sample rides between sidecars as its request id
// instead of a traceparent of its own: one header less to render, encrypt and parse into
// strings on every mesh hop, about 1 % of a loaded pair's CPU (bench/telemetry/README.md,
// stop 18). The outbound sidecar makes the request's x-request-id the trace id, 32 lower-case
// hex digits (the shape of nginx's $request_id), and sends no trace headers; the next sidecar
// reads the trace from it: the trace id is the request id, the caller's span id its last 16
// digits, not sampled. The app there gets `00-{id}-{last 16}-00`, put together from the id
// itself: no copy of its digits, and the head it goes out in is flattened once anyway. (Until
// stop 21 the id was a version-8 UUID; copying its digits out past the dashes into a new
// string cost about 2,000 instructions per request.) Envoy likewise marks its trace decision
// in x-request-id.
const TRACE_ID_LENGTH = 32;
const traceIds = new HexPool(TRACE_ID_LENGTH, 128, () => {});

/** An x-request-id that carries a new, unsampled trace (see above); its last 16 digits (the
 * span id they stand for) never all zero. */
export function newTraceRequestId(): string {
  for (;;) {
    const o = traceIds.next();
    const text = traceIds.text;
    if (!text.startsWith(ZERO_SPAN, o + 16)) return text.slice(o, o + TRACE_ID_LENGTH);
  }
}

/** Whether a request id has the length newTraceRequestId() gives (its digits are checked
 * where it is read, by traceparentFromRequestId). */
export function isTraceRequestId(requestId: string): boolean {
  return requestId.length === TRACE_ID_LENGTH;
}

/** The trace an x-request-id made by newTraceRequestId() carries, as its traceparent;
 * undefined for any other request id. `madeBySidecar`: it came from a peer sidecar that
 * proved itself by mTLS, which made it (a request id the app set travels with a traceparent
 * the sidecar made, which is read instead): its digits are not checked again. (A sidecar
 * whose telemetry is paused passes its app's id on as it came, with no traceparent: were that
 * 32 characters and not hex, the app would get a traceparent its tracer refuses, as if none
 * had come.) */
export function traceparentFromRequestId(requestId: string, madeBySidecar: boolean): string | undefined {
  if (!isTraceRequestId(requestId)) return undefined;
  if (!madeBySidecar && !isTraceId(requestId)) return undefined;
  return `00-${requestId}-${requestId.slice(16)}-00`;
}

/** Lower-case hex, the last 16 digits (the caller's span id) not all zero, so neither is the
 * whole. Checked as bytes, written as latin1: a character beyond 0xFF, which only code could
 * make, counts as its low byte (a header value arrives as bytes). */
function isTraceId(id: string): boolean {
  scratch.write(id, 0, TRACE_ID_LENGTH, 'latin1');
  return hexRun(scratch, 0, 16) >= 0 && hexRun(scratch, 16, TRACE_ID_LENGTH) > 0;
}
