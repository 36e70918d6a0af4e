// The listeners' view of telemetry: what begin() reads from a request (trace context, and
// inbound who called: the mTLS identity first), how the forwarded headers are rewritten,
// and what a finished record counts.
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ClusterSpec } from '../cluster/cluster-manager.ts';
import type { ProxyRequest } from '../http/exchange.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { Outcome } from '../http/request-outcome.ts';
import { setPeerIdentity } from '../tls/peer-identity.ts';
import { RequestRecord } from './request-record.ts';
import { attempted, Telemetry } from './telemetry.ts';

const WEB = 'spiffe://cluster.local/ns/default/sa/web';
const ORDERS_V2 = { labels: { version: 'v2' }, identity: 'spiffe://cluster.local/ns/default/sa/orders' };

function telemetry(sampleRate = 1): Telemetry {
  return new Telemetry(
    {
      enabled: true,
      self: { service: 'web', namespace: 'default', version: 'v1', identity: WEB },
      traceSampleRate: sampleRate,
      accessLog: { target: 'off', sampleRate: 1 },
    },
    pino.destination('/dev/null'),
  );
}

/** A connection as a listener accepted it; `peer` is the SPIFFE ID its mTLS handshake proved. */
function connection(peer?: string): Socket {
  const socket = {} as Socket;
  if (peer !== undefined) setPeerIdentity(socket, peer);
  return socket;
}

/** A request as a listener hands it over, on a connection of its own unless `on` is given. */
function request(rawHeaders: string[], peer?: string, on: Socket = connection(peer)): ProxyRequest {
  return { method: 'GET', url: '/x?y=1', httpVersionMajor: 1, rawHeaders, headers: {}, connection: on, body: undefined };
}

const cluster = { service: 'orders', namespace: 'default' } as ClusterSpec;

function ended(fields: Partial<Outcome>): Outcome {
  const outcome = new Outcome('outbound', 'GET', performance.now());
  Object.assign(outcome, fields);
  outcome.end(performance.now());
  return outcome;
}

describe('telemetry on the request path', () => {
  it("continues the caller's W3C trace and makes its own span the next hop's parent", () => {
    const t = telemetry(0);
    const r = t.begin(
      request(['Host', 'orders', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']),
      'outbound',
      performance.now(),
    );
    if (!r) throw new Error('no record');
    const headers = ['host', 'orders', 'traceparent', 'stale'];
    t.routed(r, headers, 'default/orders/0', cluster);
    attempted(r, ORDERS_V2);
    expect(r.sampled).toBe(true); // the caller's decision wins over the 0 % rate
    expect(r.parentSpanId).toBe('b7ad6b7169203331');
    // Who calls goes once per connection (the pools' connectionHeaders), not per request.
    expect(headers).toEqual(['host', 'orders', 'traceparent', `00-0af7651916cd43dd8448eb211c80319c-${r.spanId}-01`]);
    expect(t.connectionHeaders).toEqual(['x-weft-source', 'web/default/v1']);
    expect([r.sourceIdentity, r.destinationService, r.destinationVersion, r.destinationIdentity]).toEqual([
      WEB,
      'orders',
      'v2',
      ORDERS_V2.identity,
    ]);
  });

  it('starts a trace for a request without one, and replaces a malformed traceparent with it', () => {
    for (const [rate, flags] of [
      [0, '00'],
      [1, '01'],
    ] as const) {
      const t = telemetry(rate);
      const fresh = t.begin(request(['Host', 'orders']), 'outbound', performance.now());
      if (!fresh) throw new Error('no record');
      const headers = ['host', 'orders'];
      t.routed(fresh, headers, 'default/orders/0', cluster);
      expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(fresh.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(fresh.parentSpanId).toBe('');
      expect(headers).toEqual(['host', 'orders', 'traceparent', `00-${fresh.traceId}-${fresh.spanId}-${flags}`]);

      const malformed = t.begin(request(['Host', 'orders', 'traceparent', '00-not-a-trace-01']), 'outbound', performance.now());
      if (!malformed) throw new Error('no record');
      const replaced = ['host', 'orders', 'traceparent', '00-not-a-trace-01'];
      t.routed(malformed, replaced, 'default/orders/0', cluster);
      expect(malformed.traceId).not.toBe(fresh.traceId);
      expect(replaced).toEqual(['host', 'orders', 'traceparent', `00-${malformed.traceId}-${malformed.spanId}-${flags}`]);
    }
  });

  it('sends a trace it starts unsampled inside x-request-id; the next sidecar gives the app its traceparent', () => {
    const client = telemetry(0);
    const server = telemetry(0);
    const fromApp = ['Host', 'orders'];
    const out = client.begin(request(fromApp), 'outbound', performance.now());
    if (!out) throw new Error('no record');
    // The listener asks telemetry for the id it makes (so no random one is made to be replaced).
    const requestId = client.requestIdFor(out) as string;
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);
    const toPeer = forwardRequestHeaders(fromApp, { clientAddress: '127.0.0.1', host: undefined, requestId });
    client.routed(out, toPeer, 'default/orders/0', cluster);
    expect(toPeer).not.toContain('traceparent');
    expect(toPeer.slice(-2)).toEqual(['x-request-id', requestId]);
    const hex = requestId;

    // The connection's first request says who is calling (the upstream pools add it).
    const into = server.begin(request([...toPeer, ...client.connectionHeaders], WEB), 'inbound', performance.now());
    if (!into) throw new Error('no record');
    const toApp = forwardRequestHeaders(toPeer, { clientAddress: '127.0.0.1', host: undefined, peerIdentity: WEB });
    server.forwarding(into, toApp, '127.0.0.1:8080');
    // What the client sidecar would have sent as a traceparent of its own: its span the parent.
    expect(toApp.slice(-2)).toEqual(['traceparent', `00-${hex}-${hex.slice(16)}-00`]);
    expect(into.sampled).toBe(false);
    // Its ids are read from the traceparent only for what reads them: a tap sees them.
    server.taps.start({ id: 't', pathPrefix: '', method: '', statusMin: 0, statusMax: 0, direction: undefined, maxPerSecond: 10 });
    const served = ended({ status: 200, attempts: 1 });
    served.telemetry = into;
    server.onOutcome(served);
    const [inbound] = server.taps.drain()[0]?.events ?? [];
    expect([inbound?.traceId, inbound?.parentSpanId, inbound?.spanId]).toEqual([hex, hex.slice(16), '']);
    server.taps.stop('t');

    // A tap sees the client hop with the ids the request id carried (and keeps its record).
    client.taps.start({ id: 't', pathPrefix: '', method: '', statusMin: 0, statusMax: 0, direction: undefined, maxPerSecond: 10 });
    const outcome = ended({ status: 200, attempts: 1 });
    outcome.telemetry = out;
    client.onOutcome(outcome);
    const [event] = client.taps.drain()[0]?.events ?? [];
    expect([event?.traceId, event?.spanId, event?.requestId]).toEqual([hex, hex.slice(16), requestId]);
    // What only a reader needs is taken from the request at the end.
    expect([event?.method, event?.path, event?.authority]).toEqual(['GET', '/x?y=1', 'orders']);
    expect(outcome.telemetry).toBe(out);
    client.taps.stop('t');

    // A caller that did not ask: the random id it made is replaced by one that carries the trace.
    const unasked = client.begin(request(fromApp), 'outbound', performance.now());
    if (!unasked) throw new Error('no record');
    const withRandomId = forwardRequestHeaders(fromApp, { clientAddress: '127.0.0.1', host: undefined });
    const random = withRandomId.at(-1) as string;
    client.routed(unasked, withRandomId, 'default/orders/0', cluster);
    expect(withRandomId.at(-1)).not.toBe(random);
    expect(withRandomId.at(-1)).toMatch(/^[0-9a-f]{32}$/);
    expect(withRandomId).not.toContain('traceparent');

    // An id the app made stays the app's: the trace then travels as a header of its own.
    const own = client.begin(request(['Host', 'orders', 'X-Request-Id', 'order-42']), 'outbound', performance.now());
    if (!own) throw new Error('no record');
    const withOwnId = forwardRequestHeaders(['Host', 'orders', 'X-Request-Id', 'order-42'], {
      clientAddress: '127.0.0.1',
      host: undefined,
    });
    client.routed(own, withOwnId, 'default/orders/0', cluster);
    expect(withOwnId).toContain('order-42');
    expect(withOwnId.slice(-2)).toEqual(['traceparent', `00-${own.traceId}-${own.spanId}-00`]);
  });

  it('reads a trace from a request id only when a sidecar that said who it is sent it', () => {
    const t = telemetry(0);
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    /** The traceparent the app gets for a request with no trace headers and this id. */
    const toApp = (requestId: string, peer: string | undefined, said: boolean): string | undefined => {
      const headers = ['x-request-id', requestId, ...(said ? ['x-weft-source', 'web/default/v1'] : [])];
      const r = t.begin(request(headers, peer), 'inbound', performance.now());
      if (!r) throw new Error('no record');
      const forwarded = ['x-request-id', requestId];
      t.forwarding(r, forwarded, '127.0.0.1:8080');
      return forwarded[forwarded.indexOf('traceparent') + 1];
    };
    const carried = `00-${id}-${id.slice(16)}-00`;
    expect(toApp(id, WEB, true)).toBe(carried); // a sidecar mTLS proved
    expect(toApp(id, undefined, true)).toBe(carried); // one known by its header (checked: hex)
    // Anyone else's 32-digit id (an nginx in front makes such ids) is only a request id: the
    // sidecar starts a trace of its own for the app.
    for (const [peer, said] of [
      [WEB, false],
      [undefined, false],
    ] as const) {
      const own = toApp(id, peer, said);
      expect(own).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      expect(own).not.toContain(id);
    }
    // From a plaintext sidecar the digits are checked: not hex, not a trace.
    expect(toApp(`${id.slice(0, 31)}g`, undefined, true)).not.toContain(id.slice(0, 31));
  });

  it('gives a request the id of the trace it starts (sampled or not), and no id of its own for a trace the app brought', () => {
    const sampled = telemetry(1);
    const r = sampled.begin(request(['Host', 'orders']), 'outbound', performance.now());
    if (!r) throw new Error('no record');
    const requestId = sampled.requestIdFor(r);
    expect(requestId).toBe(r.traceId);
    const headers = forwardRequestHeaders(['Host', 'orders'], { clientAddress: '127.0.0.1', host: undefined, requestId });
    sampled.routed(r, headers, 'default/orders/0', cluster);
    expect(headers.slice(-4)).toEqual(['x-request-id', r.traceId, 'traceparent', `00-${r.traceId}-${r.spanId}-01`]);
    const continued = sampled.begin(
      request(['Host', 'orders', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']),
      'outbound',
      performance.now(),
    );
    expect(sampled.requestIdFor(continued)).toBeUndefined();
    expect(sampled.requestIdFor(undefined)).toBeUndefined(); // telemetry off or paused
  });

  it('keeps B3 headers in step for B3 callers', () => {
    const t = telemetry();
    const r = t.begin(request(['b3', '463ac35c9f6413ad-a2fb4a1d1a96d312-1'], WEB), 'inbound', performance.now());
    if (!r) throw new Error('no record');
    const headers = ['b3', '463ac35c9f6413ad-a2fb4a1d1a96d312-1', 'x-request-id', 'r-1'];
    t.forwarding(r, headers, '127.0.0.1:8080');
    expect(headers).toEqual([
      'b3',
      `0000000000000000463ac35c9f6413ad-${r.spanId}-1-a2fb4a1d1a96d312`,
      'x-request-id',
      'r-1',
      'traceparent',
      `00-0000000000000000463ac35c9f6413ad-${r.spanId}-01`,
    ]);
    // Read when the record is finished (it is sampled: its span carries the id).
    t.completed(r, ended({ status: 200 }));
    expect(r.requestId).toBe('r-1');
  });

  it('takes the caller from its mTLS identity; x-weft-source adds the version only when it names that service', () => {
    const t = telemetry();
    const orders = 'spiffe://cluster.local/ns/shop/sa/orders';
    const proved = t.begin(request(['x-weft-source', 'orders/shop/v3'], orders), 'inbound', performance.now());
    expect([proved?.sourceService, proved?.sourceNamespace, proved?.sourceVersion, proved?.sourceIdentity]).toEqual([
      'orders',
      'shop',
      'v3',
      orders,
    ]);
    // A forged header changes nothing that mTLS proved, and its version is not believed.
    const forged = t.begin(request(['x-weft-source', 'payments/default/v9'], orders), 'inbound', performance.now());
    expect([forged?.sourceService, forged?.sourceNamespace, forged?.sourceVersion, forged?.sourceIdentity]).toEqual([
      'orders',
      'shop',
      '',
      orders,
    ]);
    const bare = t.begin(request([], orders), 'inbound', performance.now());
    expect([bare?.sourceService, bare?.sourceVersion]).toEqual(['orders', '']);
  });

  it('keeps what x-weft-source said for the rest of its connection (it comes once per connection)', () => {
    const t = telemetry();
    const orders = 'spiffe://cluster.local/ns/shop/sa/orders';
    const v3 = connection(orders);
    const v4 = connection(orders); // the same service, another version (a canary)
    const source = (on: Socket, headers: string[] = []) => {
      const r = t.begin(request(headers, orders, on), 'inbound', performance.now());
      return `${r?.sourceService}/${r?.sourceNamespace}/${r?.sourceVersion}`;
    };
    expect(source(v3, ['x-weft-source', 'orders/shop/v3'])).toBe('orders/shop/v3');
    expect(source(v4, ['x-weft-source', 'orders/shop/v4'])).toBe('orders/shop/v4');
    expect(source(v3)).toBe('orders/shop/v3');
    expect(source(v4)).toBe('orders/shop/v4');
    expect(source(connection(orders))).toBe('orders/shop/'); // never said
    // A later header that does not check out (another service than mTLS proved) changes nothing.
    expect(source(v3, ['x-weft-source', 'payments/shop/v9'])).toBe('orders/shop/v3');
    expect(source(v3)).toBe('orders/shop/v3');
    // A plaintext peer is known by what its connection said, within the same bounds.
    const plain = connection();
    const r = t.begin(request(['x-weft-source', 'ingress/edge/v1'], undefined, plain), 'inbound', performance.now());
    expect(r?.sourceService).toBe('ingress');
    const next = t.begin(request([], undefined, plain), 'inbound', performance.now());
    expect([next?.sourceService, next?.sourceNamespace, next?.sourceVersion, next?.sourceIdentity]).toEqual(['ingress', 'edge', 'v1', '']);
  });

  it('bounds callers that plaintext peers name by x-weft-source', () => {
    const t = telemetry();
    const sources = new Set<string>();
    for (let i = 0; i < 150; i++)
      sources.add(t.begin(request(['x-weft-source', `caller-${i}/default/v1`]), 'inbound', performance.now())?.sourceService ?? '');
    expect(sources.size).toBe(101); // 100 distinct callers, then "unknown"
    expect(sources.has('unknown')).toBe(true);
    const r = t.begin(request(['x-weft-source', 'Not_A_Label/default/v1']), 'inbound', performance.now());
    expect([r?.sourceService, r?.sourceIdentity]).toEqual(['unknown', '']);
  });

  it('counts a request as its Outcome ended it: status, flags, attempts, bytes', () => {
    const t = telemetry();
    const r = t.begin(request([]), 'outbound', performance.now());
    if (!r) throw new Error('no record');
    t.routed(r, [], 'default/orders/0', cluster);
    attempted(r, ORDERS_V2);
    t.onOutcome(
      ended({
        route: 'default/orders/0',
        status: 503,
        flags: 'UF,URX',
        attempts: 3,
        upstreamAddress: '10.0.0.3:15006',
        responseBytes: 57,
        telemetry: r,
      }),
    );
    const series = [...t.requests.all()];
    expect(series.map((s) => [s.labels.statusCode, s.labels.responseFlags, s.labels.destinationVersion, s.requests])).toEqual([
      [503, 'UF,URX', 'v2', 1],
    ]);
    expect(series[0]?.responseBytes).toBe(57);
    expect([r.attempts, r.upstreamAddress]).toEqual([3, '10.0.0.3:15006']);
    // An Outcome without a record (telemetry was paused when it began) is not counted.
    t.onOutcome(ended({ status: 200 }));
    expect([...t.requests.all()].reduce((n, s) => n + s.requests, 0)).toBe(1);
  });

  it('serves a later request with a finished record, taken off its outcome and as new', () => {
    const t = telemetry(1);
    const outcome = new Outcome('outbound', 'GET', performance.now());
    const first = t.begin(
      request(['Host', 'orders', 'x-b3-traceid', '463ac35c9f6413ad', 'x-b3-spanid', 'a2fb4a1d1a96d312']),
      'outbound',
      outcome.startMs,
    );
    if (!first) throw new Error('no record');
    outcome.telemetry = first;
    t.routed(first, ['host', 'orders', 'x-b3-spanid', 'a2fb4a1d1a96d312'], 'default/orders/0', cluster);
    attempted(first, ORDERS_V2);
    Object.assign(outcome, { status: 503, flags: 'UF', attempts: 2, upstreamAddress: '127.0.0.1:1', responseBytes: 9 });
    outcome.end(performance.now());
    t.onOutcome(outcome);
    expect(outcome.telemetry).toBeUndefined();
    expect(t.requests.size).toBe(1);

    const next = t.begin(request(['Host', 'web']), 'inbound', 5);
    expect(next).toBe(first);
    expect(next?.direction).toBe('inbound');
    expect(next?.startUnixMs).toBe(performance.timeOrigin + 5); // the wall clock of its start
    expect(next?.route).toBe('');

    // reset() leaves no field as the last request had it.
    const used = new RequestRecord('outbound', 1) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(used))
      used[key] = typeof value === 'number' ? 7 : typeof value === 'boolean' ? !value : 'used';
    (used as unknown as RequestRecord).reset('inbound', 5);
    expect({ ...used }).toEqual({ ...new RequestRecord('inbound', 5) });
  });

  it('records nothing while paused', () => {
    const t = telemetry();
    t.setRecording(false);
    expect(t.begin(request([]), 'outbound', performance.now())).toBeUndefined();
    expect(t.setRecording(true)).toBe(true);
  });
});
