// The listeners' view of telemetry: what begin() reads from a request, how the forwarded
// headers are rewritten, and what a finished record counts.
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ClusterSpec } from '../cluster/cluster-manager.ts';
import type { Endpoint } from '../cluster/load-balancer.ts';
import { Telemetry } from './telemetry.ts';

function telemetry(sampleRate = 1): Telemetry {
  return new Telemetry(
    {
      enabled: true,
      self: { service: 'web', namespace: 'default', version: 'v1', identity: '' },
      traceSampleRate: sampleRate,
      accessLog: { target: 'off', sampleRate: 1 },
    },
    pino.destination('/dev/null'),
  );
}

function request(rawHeaders: string[]): IncomingMessage {
  return { method: 'GET', url: '/x?y=1', rawHeaders, socket: { bytesRead: 0 } } as unknown as IncomingMessage;
}

const cluster = { service: 'orders', namespace: 'default' } as ClusterSpec;
const endpoint = { address: '10.0.0.2:15006', labels: { version: 'v2' } } as unknown as Endpoint;

describe('telemetry on the request path', () => {
  it("continues the caller's W3C trace and makes its own span the next hop's parent", () => {
    const t = telemetry(0);
    const r = t.begin(request(['Host', 'orders', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']), 'outbound');
    if (!r) throw new Error('no record');
    const headers = ['host', 'orders', 'traceparent', 'stale', 'x-weft-source', 'forged/x/y'];
    t.routed(r, headers, 'default/orders/0', cluster, endpoint);
    expect(r.sampled).toBe(true); // the caller's decision wins over the 0 % rate
    expect(r.parentSpanId).toBe('b7ad6b7169203331');
    expect(headers).toEqual([
      'host',
      'orders',
      'traceparent',
      `00-0af7651916cd43dd8448eb211c80319c-${r.spanId}-01`,
      'x-weft-source',
      'web/default/v1',
    ]);
    expect([r.destinationService, r.destinationVersion, r.upstreamAddress, r.attempts]).toEqual(['orders', 'v2', '10.0.0.2:15006', 1]);
  });

  it('keeps B3 headers in step for B3 callers and strips x-weft-source before the app', () => {
    const t = telemetry();
    t.setKnownServices([{ service: 'web', namespace: 'default' }]);
    const r = t.begin(request(['b3', '463ac35c9f6413ad-a2fb4a1d1a96d312-1', 'x-weft-source', 'web/default/v1']), 'inbound');
    if (!r) throw new Error('no record');
    expect([r.sourceService, r.sourceVersion, r.destinationService]).toEqual(['web', 'v1', 'web']);
    const headers = ['b3', '463ac35c9f6413ad-a2fb4a1d1a96d312-1', 'x-weft-source', 'web/default/v1', 'x-request-id', 'r-1'];
    t.forwarding(r, headers, '127.0.0.1:8080');
    expect(headers).toEqual([
      'b3',
      `0000000000000000463ac35c9f6413ad-${r.spanId}-1-a2fb4a1d1a96d312`,
      'x-request-id',
      'r-1',
      'traceparent',
      `00-0000000000000000463ac35c9f6413ad-${r.spanId}-01`,
    ]);
    expect(r.requestId).toBe('r-1');
  });

  it('bounds callers named by x-weft-source that the config does not list', () => {
    const t = telemetry();
    const sources = new Set<string>();
    for (let i = 0; i < 150; i++)
      sources.add(t.begin(request(['x-weft-source', `caller-${i}/default/v1`]), 'inbound')?.sourceService ?? '');
    expect(sources.size).toBe(101); // 100 distinct callers, then "unknown"
    expect(sources.has('unknown')).toBe(true);
    expect(t.begin(request(['x-weft-source', 'Not_A_Label/default/v1']), 'inbound')?.sourceService).toBe('unknown');
  });

  it('counts a request ended by another layer with its status, flags and attempts', () => {
    const t = telemetry();
    const r = t.begin(request([]), 'outbound');
    if (!r) throw new Error('no record');
    t.routed(r, [], 'default/orders/0', cluster, endpoint);
    t.completed(r, {
      route: 'default/orders/0',
      status: 503,
      flags: 'UF,URX',
      attempts: 3,
      upstreamAddress: '10.0.0.3:15006',
      upstreamMs: -1,
    });
    const series = [...t.requests.all()];
    expect(series.map((s) => [s.labels.statusCode, s.labels.responseFlags, s.requests])).toEqual([[503, 'UF,URX', 1]]);
    expect([r.attempts, r.upstreamAddress]).toEqual([3, '10.0.0.3:15006']);
  });

  it('records nothing while paused', () => {
    const t = telemetry();
    t.setRecording(false);
    expect(t.begin(request([]), 'outbound')).toBeUndefined();
    expect(t.setRecording(true)).toBe(true);
  });
});
