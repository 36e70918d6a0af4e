import { describe, expect, it } from 'vitest';
import { encodeGrpcMessage, formatGrpcTimeout, grpcStatusHeader, isGrpcContentType, parseGrpcTimeout } from './grpc.ts';

describe('grpc-timeout', () => {
  it('reads every unit, and ignores malformed values', () => {
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('2M')).toBe(120_000);
    expect(parseGrpcTimeout('3S')).toBe(3000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBe(1.5);
    expect(parseGrpcTimeout('2000000n')).toBe(2);
    for (const bad of ['', 'm', '10', '10x', '-1m', '123456789m', '1.5S', ' 1S']) expect(parseGrpcTimeout(bad), bad).toBeUndefined();
  });

  it('writes what is left in the finest unit that fits eight digits, never negative', () => {
    expect(formatGrpcTimeout(299.5)).toBe('299500u');
    expect(formatGrpcTimeout(250_000)).toBe('250000m');
    expect(formatGrpcTimeout(200_000_000)).toBe('200000S');
    expect(formatGrpcTimeout(-5)).toBe('0u');
    for (const ms of [0.001, 1, 99_999, 100_000, 5e7, 1e11])
      expect(parseGrpcTimeout(formatGrpcTimeout(ms)), String(ms)).toBeLessThanOrEqual(ms);
  });
});

describe('gRPC on the wire', () => {
  it('percent-encodes grpc-message: non-printable, non-ASCII and "%"', () => {
    expect(encodeGrpcMessage('no endpoint for "a" (100%)')).toBe('no endpoint for "a" (100%25)');
    expect(encodeGrpcMessage('é\n')).toBe('%C3%A9%0A');
  });

  it('knows gRPC content types and finds grpc-status in raw headers', () => {
    expect(isGrpcContentType('application/grpc')).toBe(true);
    expect(isGrpcContentType('application/grpc+proto')).toBe(true);
    expect(isGrpcContentType('application/json')).toBe(false);
    expect(isGrpcContentType(undefined)).toBe(false);
    expect(grpcStatusHeader(['content-type', 'application/grpc', 'Grpc-Status', '14'])).toBe('14');
    expect(grpcStatusHeader(['content-type', 'application/grpc'])).toBe('');
  });
});
