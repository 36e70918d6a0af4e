// The exporter's spans, kept framed in one buffer, must decode as a Batch's spans through the
// generated schema: every span, in order, across growth and from batch to batch.
import { fromBinary } from '@bufbuild/protobuf';
import { ReportRequestSchema } from '@weft/proto';
import { describe, expect, it } from 'vitest';
import { encodeBatchRequest, writeSpan } from './batch-encoding.ts';
import { RequestRecord } from './request-record.ts';
import { SpanBuffer } from './span-buffer.ts';

function record(i: number, path = `/items/${i}`): RequestRecord {
  const r = new RequestRecord('outbound', 0);
  r.traceId = i.toString(16).padStart(32, '0');
  r.spanId = (i + 1).toString(16).padStart(16, '0');
  r.sampled = true;
  r.method = 'GET';
  r.path = path;
  r.status = 200;
  r.durationMs = i;
  return r;
}

/** The spans a batch carrying `buffer`'s bytes decodes to. */
function decoded(buffer: SpanBuffer) {
  const request = fromBinary(
    ReportRequestSchema,
    encodeBatchRequest({
      sequence: 1n,
      startUnixMs: 0,
      endUnixMs: 1,
      requests: [],
      tcp: [],
      spans: buffer.bytes(),
      dropped: { batches: 0, requests: 0, spans: 0 },
    }),
  );
  if (request.message.case !== 'batch') throw new Error(`not a batch: ${request.message.case}`);
  return request.message.value.spans;
}

describe('SpanBuffer', () => {
  it('keeps spans in order as a batch carries them, and starts empty again after clear()', () => {
    const buffer = new SpanBuffer();
    expect(decoded(buffer)).toEqual([]);
    for (let i = 0; i < 3; i++) buffer.append(writeSpan(record(i), 'node-1'));
    expect(buffer.count).toBe(3);
    expect(decoded(buffer).map((s) => [s.path, s.nodeId, Buffer.from(s.traceId).toString('hex')])).toEqual(
      [0, 1, 2].map((i) => [`/items/${i}`, 'node-1', record(i).traceId]),
    );
    buffer.clear();
    expect(buffer.count).toBe(0);
    buffer.append(writeSpan(record(7), 'node-1'));
    expect(decoded(buffer).map((s) => s.path)).toEqual(['/items/7']);
  });

  it('frames a span longer than 127 bytes and one longer than 16 KB (lengths of two and three bytes)', () => {
    const buffer = new SpanBuffer();
    const paths = [`/${'a'.repeat(200)}`, `/${'b'.repeat(20_000)}`, '/short'];
    for (const [i, path] of paths.entries()) buffer.append(writeSpan(record(i, path), 'n'));
    expect(decoded(buffer).map((s) => s.path)).toEqual(paths);
  });

  it('grows past its first 64 KB without losing a span, and gives the memory of a burst back', () => {
    const buffer = new SpanBuffer();
    const burst = 2_000; // ~100 bytes each: about three times the first buffer
    for (let i = 0; i < burst; i++) buffer.append(writeSpan(record(i), 'n'));
    const spans = decoded(buffer);
    expect(spans).toHaveLength(burst);
    expect(spans.map((s) => s.path)).toEqual(Array.from({ length: burst }, (_, i) => `/items/${i}`));
    const grown = buffer.bytes().buffer.byteLength;
    expect(grown).toBeGreaterThan(64 * 1024);
    // A quiet batch after the burst: the next one starts from a small buffer again.
    buffer.clear();
    buffer.append(writeSpan(record(1), 'n'));
    buffer.clear();
    buffer.append(writeSpan(record(2), 'n'));
    expect(buffer.bytes().buffer.byteLength).toBe(64 * 1024);
    expect(decoded(buffer).map((s) => s.path)).toEqual(['/items/2']);
  });
});
