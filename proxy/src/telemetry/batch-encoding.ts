// Telemetry batches straight to protobuf wire format: a span is encoded the moment its
// request finishes (the record is released at once), with SpanWriter (span-writer.ts:
// 1.4–2.2 µs in-process), and waits for its batch in the exporter's SpanBuffer
// (span-buffer.ts); a batch is bytes from the moment it is cut, with protobuf-es's
// BinaryWriter. Reflection (create() + toBinary()) cost 20–100 µs per span under load, BinaryWriter 13–16
// µs in-process, enough to cost most of a traced request's telemetry.
// Field numbers are those of weft/telemetry/v1/telemetry.proto; batch-encoding.test.ts
// decodes the output with the generated schema, so the two cannot drift apart.
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { SeriesDelta } from './request-metrics.ts';
import type { Direction, RequestRecord } from './request-record.ts';
import { SpanWriter } from './span-writer.ts';
import type { TcpTotals } from './tcp-metrics.ts';

const LEN = WireType.LengthDelimited;
const VARINT = WireType.Varint;

function direction(d: Direction | string): number {
  return d === 'inbound' ? 1 : 2;
}

function str(w: BinaryWriter, field: number, value: string): void {
  if (value !== '') w.tag(field, LEN).string(value);
}

function u64(w: BinaryWriter, field: number, value: number): void {
  if (value > 0) w.tag(field, VARINT).uint64(Math.round(value));
}

/** The writer every span is written with (one message at a time, copied out at the end). */
const spanWriter = new SpanWriter();

/** One RequestRecord message: a span (path without its query string) or a tap event (whole path). */
export function encodeSpan(r: RequestRecord, nodeId: string, wholePath = false): Uint8Array {
  return writeSpan(r, nodeId, wholePath).finish();
}

/** encodeSpan's message, left in the shared writer (valid until the next span is written):
 * the exporter copies it into its SpanBuffer. */
export function writeSpan(r: RequestRecord, nodeId: string, wholePath = false): SpanWriter {
  const w = spanWriter;
  w.start();
  w.hexBytes(1, r.traceId);
  w.hexBytes(2, r.spanId);
  w.hexBytes(3, r.parentSpanId);
  w.string(4, r.traceState);
  w.bool(5, r.sampled);
  w.uint(6, direction(r.direction));
  w.nanosFromMicros(7, Math.round(r.startUnixMs * 1000));
  w.uint(8, r.durationMs * 1e6);
  if (r.responseStartMs >= 0) w.uint(9, r.responseStartMs * 1e6);
  w.string(10, r.method);
  w.string(11, r.authority);
  const q = wholePath ? -1 : r.path.indexOf('?');
  w.string(12, q < 0 ? r.path : r.path.slice(0, q));
  w.uint(13, r.status);
  w.string(14, r.grpcStatus);
  w.string(15, r.responseFlags);
  w.string(16, r.upstreamAddress);
  w.uint(17, r.attempts);
  w.string(18, r.route);
  w.string(19, r.sourceService);
  w.string(20, r.sourceNamespace);
  w.string(21, r.sourceVersion);
  w.string(22, r.sourceIdentity);
  w.string(23, r.destinationService);
  w.string(24, r.destinationNamespace);
  w.string(25, r.destinationVersion);
  w.string(26, r.destinationIdentity);
  w.uint(27, r.requestBytes);
  w.uint(28, r.responseBytes);
  w.string(29, r.requestId);
  w.string(30, nodeId);
  return w;
}

export interface BatchContent {
  readonly sequence: bigint;
  readonly startUnixMs: number;
  readonly endUnixMs: number;
  readonly requests: readonly SeriesDelta[];
  readonly tcp: readonly TcpTotals[];
  /** The spans, already framed as the Batch's repeated field (span-buffer.ts). */
  readonly spans: Uint8Array;
  readonly dropped: { readonly batches: number; readonly requests: number; readonly spans: number };
}

/** A whole ReportRequest carrying one Batch (oneof field 2). */
export function encodeBatchRequest(b: BatchContent): Uint8Array {
  const w = new BinaryWriter();
  w.tag(2, LEN).fork();
  w.tag(1, VARINT).uint64(b.sequence);
  w.tag(2, VARINT).int64(b.startUnixMs);
  w.tag(3, VARINT).int64(b.endUnixMs);
  for (const s of b.requests) {
    w.tag(4, LEN).fork();
    const l = s.labels;
    w.tag(1, LEN).fork();
    w.tag(1, VARINT).int32(direction(l.direction));
    str(w, 2, l.sourceService);
    str(w, 3, l.sourceNamespace);
    str(w, 4, l.sourceVersion);
    str(w, 5, l.sourceIdentity);
    str(w, 6, l.destinationService);
    str(w, 7, l.destinationNamespace);
    str(w, 8, l.destinationVersion);
    str(w, 9, l.destinationIdentity);
    str(w, 10, l.route);
    if (l.statusCode > 0) w.tag(11, VARINT).uint32(l.statusCode);
    str(w, 12, l.responseFlags);
    str(w, 13, l.grpcStatus);
    w.join();
    u64(w, 2, s.requests);
    w.tag(3, LEN).fork();
    for (const count of s.buckets) w.uint64(count);
    w.join();
    if (s.sumMs !== 0) w.tag(4, WireType.Bit64).double(s.sumMs);
    u64(w, 5, s.requestBytes);
    u64(w, 6, s.responseBytes);
    w.join();
  }
  for (const t of b.tcp) {
    w.tag(5, LEN).fork();
    w.tag(1, VARINT).int32(direction(t.direction));
    u64(w, 2, t.opened);
    u64(w, 3, t.closed);
    u64(w, 4, t.receivedBytes);
    u64(w, 5, t.sentBytes);
    w.join();
  }
  w.raw(b.spans);
  w.tag(7, LEN).fork();
  u64(w, 1, b.dropped.batches);
  u64(w, 2, b.dropped.requests);
  u64(w, 3, b.dropped.spans);
  w.join();
  w.join();
  return w.finish();
}

/** A whole ReportRequest carrying TapEvents (oneof field 3). */
export function encodeTapRequest(tapId: string, events: readonly RequestRecord[], skipped: number, nodeId: string): Uint8Array {
  const w = new BinaryWriter();
  w.tag(3, LEN).fork();
  str(w, 1, tapId);
  for (const event of events) w.tag(2, LEN).bytes(encodeSpan(event, nodeId, true));
  u64(w, 3, skipped);
  w.join();
  return w.finish();
}
