import { describe, expect, it } from 'vitest';
import {
  formatTraceparent,
  newSpanId,
  newTraceparent,
  newTraceRequestId,
  parseB3Multi,
  parseB3Single,
  parseTraceparent,
  traceparentFromRequestId,
  traceparentSpanId,
  traceparentTraceId,
} from './trace-context.ts';

describe('trace context', () => {
  it('parses W3C traceparent and refuses malformed or all-zero ids', () => {
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
      sampled: true,
      format: 'w3c',
    });
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00')?.sampled).toBe(false);
    const malformed = [
      '00-00000000000000000000000000000000-b7ad6b7169203331-01', // all-zero trace id
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01', // all-zero span id
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', // version ff
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01', // upper case
      'garbage',
      // Every character of the ids and fields is checked: one that is not hex anywhere, one
      // between '9' and 'a' or before '0', and ones checked as UTF-8 bytes: a character whose
      // low byte is a hex digit ('\u0130' → 0x30, '\u0161' → 0x61) or a Latin-1 letter.
      '00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333:-01',
      '0`-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0\u0130',
      '00-0af7651916cd43dd8448eb211c80319\u0130-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333\u0161-01',
      '00-0af7651916cd43dd8448eb211c80319\u00e1-b7ad6b7169203331-01',
      // Version 00 is exactly 55 characters.
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
    ];
    for (const value of malformed) expect(parseTraceparent(value), value).toBeUndefined();
    // A later version may append fields; the first four are read.
    expect(parseTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra')?.traceId).toBe(
      '0af7651916cd43dd8448eb211c80319c',
    );
  });

  it('accepts B3 single and multi headers, padding 64-bit trace ids', () => {
    expect(parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90')).toEqual({
      traceId: '80f198ee56343ba864fe8b2a57d3eff7',
      parentSpanId: 'e457b5a2e4d86bd1',
      sampled: true,
      format: 'b3-single',
    });
    expect(parseB3Single('463ac35c9f6413ad-a2fb4a1d1a96d312')?.traceId).toBe('0000000000000000463ac35c9f6413ad');
    expect(parseB3Single('463ac35c9f6413ad-a2fb4a1d1a96d312')?.sampled).toBeUndefined();
    expect(parseB3Single('0')).toBeUndefined();
    expect(parseB3Multi('463ac35c9f6413ad', 'a2fb4a1d1a96d312', '0')?.sampled).toBe(false);
    expect(parseB3Multi('463ac35c9f6413ad', undefined, '1')).toBeUndefined();
  });

  it('formats traceparent and makes distinct lower-case ids', () => {
    const traceId = traceparentTraceId(newTraceparent());
    const spanId = newSpanId();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(formatTraceparent(traceId, spanId, true)).toBe(`00-${traceId}-${spanId}-01`);
    const ids = new Set(Array.from({ length: 1000 }, () => newSpanId()));
    expect(ids.size).toBe(1000);
  });

  it('makes new traces as well-formed, unsampled traceparents with distinct ids, across pool refills', () => {
    // 1,000 is several pools' worth: the fixed characters are rewritten at each refill.
    const values = Array.from({ length: 1000 }, () => newTraceparent());
    for (const value of values) {
      expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      const parsed = parseTraceparent(value);
      expect(parsed, value).toEqual({
        traceId: traceparentTraceId(value),
        parentSpanId: traceparentSpanId(value),
        sampled: false,
        format: 'w3c',
      });
    }
    expect(new Set(values.map(traceparentTraceId)).size).toBe(1000);
    expect(new Set(values.map(traceparentSpanId)).size).toBe(1000);
  });

  it('carries a new unsampled trace as a 32-digit request id, and reads it back only from one', () => {
    const ids = Array.from({ length: 1000 }, newTraceRequestId); // several pool refills
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(id.slice(16)).not.toBe('0'.repeat(16));
      for (const madeBySidecar of [true, false]) {
        const traceparent = traceparentFromRequestId(id, madeBySidecar);
        expect(traceparent).toBe(`00-${id}-${id.slice(16)}-00`);
        expect(parseTraceparent(traceparent as string)).toEqual({ traceId: id, parentSpanId: id.slice(16), sampled: false, format: 'w3c' });
      }
    }
    expect(new Set(ids).size).toBe(1000);
    // Any shape but 32 characters is only a request id, whoever sent it.
    for (const other of ['9c1d2f0e-6b7a-4c3d-8e9f-0a1b2c3d4e5f', '9c1d2f0e6b7a4c3d8e9f0a1b2c3d4e5', 'order-42', '']) {
      expect(traceparentFromRequestId(other, true)).toBeUndefined();
      expect(traceparentFromRequestId(other, false)).toBeUndefined();
    }
    // From a caller mTLS did not prove, the digits are checked: hex, lower case, a span id.
    const unchecked = [
      '9C1D2F0E6B7A4C3D8E9F0A1B2C3D4E5F', // upper case
      '9c1d2f0e6b7a4c3d8e9f0a1b2c3d4e5g', // not hex, in the span id's half
      'gc1d2f0e6b7a4c3d8e9f0a1b2c3d4e5f', // and in the trace id's
      '9c1d2f0e6b7a4c3d-e9f0a1b2c3d4e5f',
      '9c1d2f0e6b7a4c3d8e9f0a1b2c3d4e5\u00e1', // beyond ASCII
      '9c1d2f0e6b7a4c3d8e9f0a1b2c3d4e5\u0100', // beyond latin1, its low byte not hex
      '9c1d2f0e6b7a4c3d0000000000000000', // a zero span id
      '0'.repeat(32),
    ];
    for (const other of unchecked) expect(traceparentFromRequestId(other, false), other).toBeUndefined();
    // A half of zeros before a span id is a trace id (only all 32 zero is not).
    expect(traceparentFromRequestId(`${'0'.repeat(16)}0a1b2c3d4e5f6789`, false)).toBe(
      `00-${'0'.repeat(16)}0a1b2c3d4e5f6789-0a1b2c3d4e5f6789-00`,
    );
  });
});
