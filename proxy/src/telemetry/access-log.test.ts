import { describe, expect, it } from 'vitest';
import { accessLogLine } from './access-log.ts';
import { RequestRecord } from './request-record.ts';

function record(): RequestRecord {
  const r = new RequestRecord('outbound', 10);
  // Its wall-clock start, pinned (the record counts it from performance.timeOrigin).
  Object.defineProperty(r, 'startUnixMs', { value: Date.UTC(2026, 10, 25, 12, 0, 0, 500) });
  r.method = 'GET';
  r.authority = 'orders';
  r.path = '/a?b="c"\n\u0001é';
  r.status = 200;
  r.durationMs = 1.23456;
  r.responseStartMs = 0.5;
  r.requestBytes = 3;
  r.responseBytes = 2;
  r.upstreamAddress = '127.0.0.1:8080';
  r.attempts = 1;
  r.route = 'default/orders/default';
  r.sourceService = 'client';
  r.destinationService = 'orders';
  r.destinationVersion = 'v1';
  r.traceId = '0af7651916cd43dd8448eb211c80319c';
  r.spanId = 'b7ad6b7169203331';
  r.requestId = 'id-1';
  return r;
}

describe('accessLogLine', () => {
  it('writes one JSON line in the shape of a pino line, escaping what the request sent', () => {
    const line = accessLogLine(record(), 1_700_000_000_000);
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual({
      level: 30,
      time: 1_700_000_000_000,
      log: 'access',
      direction: 'outbound',
      start: '2026-11-25T12:00:00.500Z',
      method: 'GET',
      authority: 'orders',
      path: '/a?b="c"\n\u0001é',
      status: 200,
      response_flags: '-',
      duration_ms: 1.235,
      response_start_ms: 0.5,
      request_bytes: 3,
      response_bytes: 2,
      upstream: '127.0.0.1:8080',
      attempts: 1,
      route: 'default/orders/default',
      source: 'client',
      destination: 'orders',
      destination_version: 'v1',
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
      request_id: 'id-1',
      msg: 'request',
    });
  });

  it('leaves out what does not apply, as pino leaves out undefined fields', () => {
    const r = new RequestRecord('inbound', 0);
    r.responseFlags = 'NR';
    const parsed = JSON.parse(accessLogLine(r, 1));
    expect(parsed).not.toHaveProperty('response_start_ms');
    expect(parsed).not.toHaveProperty('upstream');
    expect(parsed).not.toHaveProperty('route');
    expect(parsed).not.toHaveProperty('grpc_status');
    expect(parsed).not.toHaveProperty('request_id');
    expect(parsed).toMatchObject({ response_flags: 'NR', source: 'unknown', destination: 'unknown' });
  });
});
