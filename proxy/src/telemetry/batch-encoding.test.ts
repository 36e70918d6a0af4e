// The hand-driven encoder must produce exactly what the generated schema decodes.
import { fromBinary } from '@bufbuild/protobuf';
import { Direction, ReportRequestSchema, RequestRecordSchema } from '@weft/proto';
import { describe, expect, it } from 'vitest';
import { encodeBatchRequest, encodeSpan, encodeTapRequest, writeSpan } from './batch-encoding.ts';
import { LATENCY_BOUNDS_MS, RequestMetrics } from './request-metrics.ts';
import { RequestRecord } from './request-record.ts';
import { SpanBuffer } from './span-buffer.ts';

/** Pins a record's wall-clock start (it counts it from performance.timeOrigin). */
function startedAt(r: RequestRecord, unixMs: number): void {
  Object.defineProperty(r, 'startUnixMs', { value: unixMs, configurable: true });
}

function span(): RequestRecord {
  const r = new RequestRecord('inbound', 10);
  startedAt(r, 1_700_000_000_123.456);
  r.traceId = '0af7651916cd43dd8448eb211c80319c';
  r.spanId = 'b7ad6b7169203331';
  r.parentSpanId = '00f067aa0ba902b7';
  r.traceState = 'vendor=x';
  r.sampled = true;
  r.method = 'POST';
  r.authority = 'orders';
  r.path = '/api/items?secret=1';
  r.status = 503;
  r.responseFlags = 'UF';
  r.upstreamAddress = '127.0.0.1:8080';
  r.attempts = 2;
  r.route = 'default/orders/0';
  r.sourceService = 'web';
  r.sourceNamespace = 'default';
  r.sourceVersion = 'v1';
  r.sourceIdentity = 'spiffe://weft.local/ns/default/sa/web';
  r.destinationService = 'orders';
  r.destinationNamespace = 'default';
  r.destinationVersion = 'v2';
  r.durationMs = 12.5;
  r.responseStartMs = 3.25;
  r.requestBytes = 100;
  r.responseBytes = 2048;
  r.requestId = 'req-1';
  return r;
}

/** A batch's spans as the exporter keeps them. */
function spans(...records: RequestRecord[]): Uint8Array {
  const buffer = new SpanBuffer();
  for (const r of records) buffer.append(writeSpan(r, 'n'));
  return buffer.bytes();
}

describe('batch encoding', () => {
  it('encodes a span the generated schema reads back field for field', () => {
    const decoded = fromBinary(RequestRecordSchema, encodeSpan(span(), 'orders-1'));
    expect(Buffer.from(decoded.traceId).toString('hex')).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(Buffer.from(decoded.spanId).toString('hex')).toBe('b7ad6b7169203331');
    expect(Buffer.from(decoded.parentSpanId).toString('hex')).toBe('00f067aa0ba902b7');
    expect(decoded).toMatchObject({
      traceState: 'vendor=x',
      sampled: true,
      direction: Direction.INBOUND,
      startUnixNanos: 1_700_000_000_123_456_000n,
      durationNanos: 12_500_000n,
      responseStartNanos: 3_250_000n,
      method: 'POST',
      authority: 'orders',
      path: '/api/items',
      statusCode: 503,
      responseFlags: 'UF',
      upstreamAddress: '127.0.0.1:8080',
      attempts: 2,
      route: 'default/orders/0',
      sourceService: 'web',
      sourceVersion: 'v1',
      sourceIdentity: 'spiffe://weft.local/ns/default/sa/web',
      destinationService: 'orders',
      destinationVersion: 'v2',
      requestBytes: 100n,
      responseBytes: 2048n,
      requestId: 'req-1',
      nodeId: 'orders-1',
    });
  });

  it('encodes long and non-ASCII strings, large numbers and a message past its first buffer', () => {
    const r = span();
    r.path = `/${'é'.repeat(1500)}/ü?q=1`; // 3,000+ bytes of UTF-8: a multi-byte length, the buffer grows
    r.route = 'default/café/0'; // short, not ASCII
    r.authority = 'a'.repeat(42); // the longest string whose length byte is kept ahead
    r.upstreamAddress = 'b'.repeat(43); // the shortest whose length is counted first
    startedAt(r, 4_102_444_800_000.001); // 2100-01-01: nanoseconds past 2⁶²
    r.durationMs = 9_007_199_254; // nanoseconds just under 2⁵³: a varint of eight bytes
    r.responseBytes = 2 ** 40;
    for (const wholePath of [false, true]) {
      const decoded = fromBinary(RequestRecordSchema, encodeSpan(r, 'orders-1', wholePath));
      expect(decoded).toMatchObject({
        path: wholePath ? r.path : `/${'é'.repeat(1500)}/ü`,
        route: 'default/café/0',
        authority: r.authority,
        upstreamAddress: r.upstreamAddress,
        startUnixNanos: 4_102_444_800_000_001_000n,
        durationNanos: 9_007_199_254_000_000n,
        responseBytes: 2n ** 40n,
        nodeId: 'orders-1',
      });
    }
    // The writer is shared: the next span is written from the start again.
    expect(fromBinary(RequestRecordSchema, encodeSpan(span(), 'n')).path).toBe('/api/items');
  });

  it('encodes a batch with series, buckets, TCP, spans and drop counts', () => {
    const metrics = new RequestMetrics();
    const r = span();
    metrics.observe(r);
    metrics.observe(r);
    const bytes = encodeBatchRequest({
      sequence: 7n,
      startUnixMs: 1000,
      endUnixMs: 3000,
      requests: metrics.takeDeltas(),
      tcp: [{ direction: 'outbound', opened: 2, closed: 1, open: 1, receivedBytes: 300, sentBytes: 400 }],
      spans: spans(r),
      dropped: { batches: 1, requests: 5, spans: 0 },
    });
    const request = fromBinary(ReportRequestSchema, bytes);
    expect(request.message.case).toBe('batch');
    const batch = request.message.value as Extract<typeof request.message, { case: 'batch' }>['value'];
    expect([batch.sequence, batch.startUnixMs, batch.endUnixMs]).toEqual([7n, 1000n, 3000n]);
    expect(batch.requests).toHaveLength(1);
    const series = batch.requests[0];
    expect(series?.labels).toMatchObject({
      direction: Direction.INBOUND,
      sourceService: 'web',
      destinationVersion: 'v2',
      route: 'default/orders/0',
      statusCode: 503,
      responseFlags: 'UF',
    });
    expect(series?.requests).toBe(2n);
    expect(series?.latencySumMs).toBe(25);
    expect(series?.latencyBuckets).toHaveLength(LATENCY_BOUNDS_MS.length + 1);
    expect(series?.latencyBuckets[LATENCY_BOUNDS_MS.indexOf(20)]).toBe(2n);
    expect(batch.tcp[0]).toMatchObject({ direction: Direction.OUTBOUND, opened: 2n, closed: 1n, receivedBytes: 300n, sentBytes: 400n });
    expect(batch.spans[0]?.nodeId).toBe('n');
    expect(batch.dropped).toMatchObject({ batches: 1n, requests: 5n, spans: 0n });
  });

  it('encodes tap events with the whole path, query included', () => {
    const request = fromBinary(ReportRequestSchema, encodeTapRequest('tap-1', [span(), span()], 3, 'orders-1'));
    expect(request.message.case).toBe('tapEvents');
    const tap = request.message.value as Extract<typeof request.message, { case: 'tapEvents' }>['value'];
    expect([tap.tapId, tap.skipped, tap.events.length]).toEqual(['tap-1', 3n, 2]);
    expect(tap.events[0]?.path).toBe('/api/items?secret=1');
  });
});
