// Tracing end to end: a request through A → B → C is one trace with a span per hop and
// correct parents, `weft trace` shows it, B3 callers keep their trace id, and spans reach
// an OTLP/HTTP endpoint when the control plane has one. The request enters through a
// client's sidecar (its outbound), as every caller must under strict mTLS.
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  FAST_TELEMETRY,
  onCleanup,
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  type TestApp,
  waitForMeshSync,
  waitUntil,
  weft,
  yamlDocs,
} from '../src/harness/index.ts';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  direction: 'inbound' | 'outbound';
  statusCode: number;
  source: { service: string };
  destination: { service: string };
}

/** An app that calls `next` through its sidecar, passing the trace context on (as apps in a mesh must). */
async function relayApp(name: string, next: string | undefined, outbound: { port: number }): Promise<TestApp> {
  return startApp(name, (req, res) => {
    const context: Record<string, string> = {};
    for (const h of ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled']) {
      const value = req.headers[h];
      if (typeof value === 'string') context[h] = value;
    }
    const reply = (downstream: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app: name, traceparent: context['traceparent'] ?? null, downstream }));
    };
    if (!next) return reply(null);
    const call = request({ host: '127.0.0.1', port: outbound.port, path: req.url, headers: { host: next, ...context } }, (upstream) => {
      let body = '';
      upstream.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      upstream.on('end', () => reply(JSON.parse(body)));
    });
    call.on('error', (e) => reply({ error: e.message }));
    call.end();
  });
}

async function chain(extraCpArgs: string[] = []) {
  const cp = await startControlPlane({
    config: yamlDocs(service('client'), service('a'), service('b'), service('c')),
    args: extraCpArgs,
  });
  const outA = { port: 0 };
  const outB = { port: 0 };
  const [appA, appB, appC] = await Promise.all([relayApp('a', 'b', outA), relayApp('b', 'c', outB), relayApp('c', undefined, { port: 0 })]);
  const [client, a, b] = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress, args: FAST_TELEMETRY }),
    startSidecar({ service: 'a', controlPlane: cp.xdsAddress, appPort: appA.port, args: FAST_TELEMETRY }),
    startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port, args: FAST_TELEMETRY }),
    startSidecar({ service: 'c', controlPlane: cp.xdsAddress, appPort: appC.port, args: FAST_TELEMETRY }),
  ]);
  outA.port = a.outboundPort;
  outB.port = b.outboundPort;
  await waitForMeshSync(cp, 4);
  /** A request from the client app to service a, through the client's sidecar. */
  const enter = (options: { path?: string; headers?: Record<string, string> } = {}) =>
    send({ port: client.outboundPort, host: 'a', ...options });
  return { cp, enter };
}

async function spansOf(adminUrl: string, traceId: string, count: number): Promise<Span[]> {
  let spans: Span[] = [];
  await waitUntil(
    async () => {
      const response = await fetch(`${adminUrl}/api/traces/${traceId}`);
      spans = response.ok ? ((await response.json()) as { spans: Span[] }).spans : [];
      return spans.length >= count;
    },
    10_000,
    () => `${count} spans of trace ${traceId}, have ${spans.length}`,
  );
  return spans;
}

describe('tracing', () => {
  it('shows a request through A → B → C as one trace of three hops with correct parents', async () => {
    const { cp, enter } = await chain();
    // No trace context from the client app: its sidecar starts the trace.
    const reply = await enter({ path: '/checkout' });
    expect(reply.status).toBe(200);
    const body = JSON.parse(reply.body) as {
      traceparent: string;
      downstream: { traceparent: string; downstream: { traceparent: string } };
    };
    const traceId = body.traceparent.split('-')[1] as string;
    expect(body.downstream.traceparent.split('-')[1]).toBe(traceId);
    expect(body.downstream.downstream.traceparent.split('-')[1]).toBe(traceId);

    const spans = await spansOf(cp.adminUrl, traceId, 6);
    expect(spans).toHaveLength(6);
    const find = (direction: string, svc: string) =>
      spans.find((s) => s.direction === direction && (direction === 'inbound' ? s.destination.service : s.source.service) === svc) as Span;
    const aIn = find('inbound', 'a');
    const aOut = find('outbound', 'a');
    const bIn = find('inbound', 'b');
    const bOut = find('outbound', 'b');
    const cIn = find('inbound', 'c');
    const clientOut = find('outbound', 'client');
    // Three hops (client → A → B → C), one server span per service; each client span sits between them.
    expect(clientOut.parentSpanId).toBe('');
    expect(aIn.parentSpanId).toBe(clientOut.spanId);
    expect(aOut.parentSpanId).toBe(aIn.spanId);
    expect(bIn.parentSpanId).toBe(aOut.spanId);
    expect(bOut.parentSpanId).toBe(bIn.spanId);
    expect(cIn.parentSpanId).toBe(bOut.spanId);
    // Who called each hop is what its mTLS peer proved.
    expect([aIn.source.service, bIn.source.service, cIn.source.service]).toEqual(['client', 'a', 'b']);
    // Each app saw its own sidecar's inbound span as parent.
    expect(body.traceparent.split('-')[2]).toBe(aIn.spanId);
    expect(body.downstream.traceparent.split('-')[2]).toBe(bIn.spanId);

    const shown = await weft(['trace', traceId, '--server', cp.adminUrl]);
    expect(shown.code).toBe(0);
    const lines = shown.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^trace ${traceId}: 6 spans`));
    const hops = lines.filter((l) => /[←→]/.test(l)).map((l) => /^(\s*)(\S+ [←→] \S+)/.exec(l)?.slice(1, 3).join(''));
    expect(hops).toEqual(['client → a', '  a ← client', '    a → b', '      b ← a', '        b → c', '          c ← b']);
  });

  it("continues a B3 caller's trace and keeps its sampling decision", async () => {
    const { cp, enter } = await chain();
    const b3Trace = '463ac35c9f6413ad';
    const reply = await enter({ headers: { 'x-b3-traceid': b3Trace, 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1' } });
    const traceId = `0000000000000000${b3Trace}`;
    expect((JSON.parse(reply.body) as { traceparent: string }).traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const spans = await spansOf(cp.adminUrl, traceId, 6);
    expect(spans.find((s) => s.direction === 'outbound' && s.source.service === 'client')?.parentSpanId).toBe('a2fb4a1d1a96d312');

    // A caller that decided not to sample is followed: no spans for that trace.
    const unsampled = '0af7651916cd43dd8448eb211c80319c';
    await enter({ headers: { traceparent: `00-${unsampled}-b7ad6b7169203331-00` } });
    const marker = await enter();
    const markerTrace = (JSON.parse(marker.body) as { traceparent: string }).traceparent.split('-')[1] as string;
    await spansOf(cp.adminUrl, markerTrace, 6);
    expect((await fetch(`${cp.adminUrl}/api/traces/${unsampled}`)).status).toBe(404);
  });

  it('carries a trace it starts unsampled to the next sidecar inside x-request-id, and the app gets its traceparent', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('client'), service('a')) });
    const app = await startApp('a');
    const unsampled = ['--trace-sample-rate', '0', '--access-log', 'off'];
    const [client] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress, args: unsampled }),
      startSidecar({ service: 'a', controlPlane: cp.xdsAddress, appPort: app.port, args: unsampled }),
    ]);
    await waitForMeshSync(cp, 2);

    expect((await send({ port: client.outboundPort, host: 'a' })).status).toBe(200);
    const made = app.received.at(-1)?.headers ?? {};
    const requestId = String(made['x-request-id']);
    expect(requestId).toMatch(/^[0-9a-f]{32}$/); // the trace's id
    // The context the client's sidecar did not send, rebuilt from the id by a's sidecar.
    expect(made['traceparent']).toBe(`00-${requestId}-${requestId.slice(16)}-00`);

    // An id the client made is left alone: the trace goes as a traceparent of its own.
    expect((await send({ port: client.outboundPort, host: 'a', headers: { 'x-request-id': 'order-42' } })).status).toBe(200);
    const kept = app.received.at(-1)?.headers ?? {};
    expect(kept['x-request-id']).toBe('order-42');
    expect(kept['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('exports spans to an OTLP/HTTP endpoint', async () => {
    const received: unknown[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces') received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    onCleanup(() => new Promise<void>((done) => receiver.close(() => done())));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
    const { enter } = await chain(['--otlp-endpoint', url]);
    const reply = await enter({ path: '/otlp' });
    const traceId = (JSON.parse(reply.body) as { traceparent: string }).traceparent.split('-')[1] as string;

    type OtlpSpan = {
      traceId: string;
      spanId: string;
      parentSpanId?: string;
      kind: number;
      attributes: { key: string; value: Record<string, unknown> }[];
    };
    type Otlp = {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: OtlpSpan[] }[];
      }[];
    };
    const spans = () =>
      (received as Otlp[])
        .flatMap((r) =>
          r.resourceSpans.flatMap((rs) =>
            rs.scopeSpans.flatMap((ss) =>
              ss.spans.map((s) => ({ ...s, service: rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue })),
            ),
          ),
        )
        .filter((s) => s.traceId === traceId);
    await waitUntil(
      () => spans().length >= 6,
      15_000,
      () => `6 OTLP spans of ${traceId}, have ${spans().length}`,
    );
    const got = spans();
    expect(got.map((s) => s.service).sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'client']);
    const ids = new Set(got.map((s) => s.spanId));
    // One root (the client sidecar's outbound, kind CLIENT = 3); every other span's parent is
    // in the trace; inbound spans are kind SERVER = 2.
    expect(got.filter((s) => !s.parentSpanId)).toHaveLength(1);
    expect(got.filter((s) => s.parentSpanId && ids.has(s.parentSpanId))).toHaveLength(5);
    expect(got.find((s) => !s.parentSpanId)?.kind).toBe(3);
    expect(got.find((s) => s.service === 'c')?.kind).toBe(2);
    expect(got.find((s) => s.service === 'c')?.attributes.find((a) => a.key === 'url.path')?.value).toEqual({ stringValue: '/otlp' });
  });
});
