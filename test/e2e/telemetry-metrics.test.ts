// Per-hop metrics end to end: a known traffic pattern gives exact counts on the sidecars'
// /metrics, in the control plane's per-service and per-edge view and in `weft stat` /
// `weft edges`; latency percentiles land within one histogram bucket of the truth.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  FAST_TELEMETRY,
  inboundRequests,
  meshEdges,
  meshStat,
  promValue,
  scrape,
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  tempDir,
  waitForMeshSync,
  waitUntil,
  weft,
  yamlDocs,
} from '../src/harness/index.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const ORDERS_ID = 'spiffe://cluster.local/ns/default/sa/orders';

/** orders answers 503 on /fail, waits /delay/<ms> on /delay, and 200 otherwise. */
async function ordersMesh(clientArgs: readonly string[] = FAST_TELEMETRY, more: readonly string[] = [], extra: readonly string[] = []) {
  const cp = await startControlPlane({
    config: yamlDocs(service('client'), service('orders'), ...more.map((name) => service(name)), ...extra),
  });
  const app = await startApp('orders', (req, res) => {
    const delay = /^\/delay\/(\d+)$/.exec(req.url ?? '');
    const answer = () => {
      res.writeHead(req.url === '/fail' ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(req.url === '/fail' ? 'unavailable' : 'ok');
    };
    if (delay) setTimeout(answer, Number(delay[1]));
    else answer();
  });
  const [client, orders] = await Promise.all([
    startSidecar({ service: 'client', labels: { version: 'v7' }, controlPlane: cp.xdsAddress, args: clientArgs }),
    startSidecar({ service: 'orders', labels: { version: 'v1' }, controlPlane: cp.xdsAddress, appPort: app.port, args: FAST_TELEMETRY }),
  ]);
  await waitForMeshSync(cp, 2);
  return { cp, client, orders };
}

describe('request metrics', () => {
  it('counts 100 OK and 7 × 503 exactly: 93.46 % at every view', async () => {
    const { cp, client, orders } = await ordersMesh();
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    for (let i = 0; i < 100; i++)
      expect((await send({ port: client.outboundPort, host: 'orders', path: `/ok/${i}`, agent })).status).toBe(200);
    for (let i = 0; i < 7; i++) expect((await send({ port: client.outboundPort, host: 'orders', path: '/fail', agent })).status).toBe(503);
    agent.destroy();

    // The sidecars' own /metrics: outbound at the client, inbound at orders (who called is known).
    const clientMetrics = await scrape(client.adminPort);
    const out = { direction: 'outbound', source_service: 'client', destination_service: 'orders', destination_version: 'v1' };
    expect(promValue(clientMetrics, 'weft_requests_total', { ...out, status_code: '200' })).toBe(100);
    expect(promValue(clientMetrics, 'weft_requests_total', { ...out, status_code: '503' })).toBe(7);
    expect(promValue(clientMetrics, 'weft_request_duration_seconds_count', out)).toBe(107);
    expect(promValue(clientMetrics, 'weft_request_duration_seconds_bucket', { ...out, le: '+Inf' })).toBe(107);
    expect(promValue(clientMetrics, 'weft_tcp_connections_opened_total', { direction: 'outbound' })).toBeGreaterThanOrEqual(1);
    expect(promValue(clientMetrics, 'weft_requests_total', { ...out, source_identity: CLIENT_ID, destination_identity: ORDERS_ID })).toBe(
      107,
    );
    // Inbound, who called is what mTLS proved: the client's SPIFFE ID, and the service in it;
    // its version came once per connection (x-weft-source), and counts for every request.
    const ordersMetrics = await scrape(orders.adminPort);
    const inb = {
      direction: 'inbound',
      source_service: 'client',
      source_version: 'v7',
      source_identity: CLIENT_ID,
      destination_service: 'orders',
      destination_identity: ORDERS_ID,
    };
    expect(promValue(ordersMetrics, 'weft_requests_total', { ...inb, status_code: '200' })).toBe(100);
    expect(promValue(ordersMetrics, 'weft_requests_total', { ...inb, status_code: '503' })).toBe(7);
    expect(promValue(ordersMetrics, 'weft_tcp_connections_opened_total', { direction: 'inbound' })).toBeGreaterThanOrEqual(1);
    // Bounded labels: no path or request id ever becomes a label.
    expect(clientMetrics).not.toContain('/ok/');
    expect(clientMetrics).not.toMatch(/path=|request_id=/);

    // The control plane: per service (inbound) and per edge (the caller's view).
    await waitUntil(
      async () => (await inboundRequests(cp.adminUrl, 'orders')) === 107,
      10_000,
      () => 'orders at 107 requests',
    );
    const orders107 = (await meshStat(cp.adminUrl)).find((s) => s.service === 'orders');
    expect(orders107?.inbound?.failures).toBe(7);
    expect(orders107?.inbound?.successRate).toBeCloseTo(100 / 107, 10);
    expect(orders107?.meshed).toBe(1);
    await waitUntil(
      async () => (await meshEdges(cp.adminUrl)).some((e) => e.metrics.requests === 107),
      10_000,
      () => 'edge at 107',
    );
    const edges = await meshEdges(cp.adminUrl);
    expect(edges.map((e) => [e.source.service, e.destination.service, e.metrics.requests, e.metrics.failures])).toEqual([
      ['client', 'orders', 107, 7],
    ]);
    expect([edges[0]?.sourceIdentities, edges[0]?.destinationIdentities]).toEqual([[CLIENT_ID], [ORDERS_ID]]);

    const stat = await weft(['stat', '--window', '10m', '--server', cp.adminUrl]);
    expect(stat.code).toBe(0);
    const row = stat.stdout.split('\n').find((l) => /\borders\b/.test(l)) ?? '';
    expect(row).toContain('93.46%');
    expect(row).toMatch(/\b107\b/);
    expect(stat.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+SERVICE\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50/);
    const one = await weft(['stat', 'orders', '--window', '10m', '-o', 'json', '--server', cp.adminUrl]);
    const json = JSON.parse(one.stdout) as {
      services: { inbound: { requests: number } }[];
      routes: { route: string; metrics: { requests: number } }[];
    };
    expect(json.services[0]?.inbound.requests).toBe(107);
    expect(json.routes.map((r) => [r.route, r.metrics.requests])).toEqual([['default/orders/default', 107]]);
    const edgeTable = await weft(['edges', '--window', '10m', '--server', cp.adminUrl]);
    expect(edgeTable.stdout).toMatch(/^SRC\s+DST\s+SRC_IDENTITY\s+DST_IDENTITY\s+SUCCESS/);
    expect(edgeTable.stdout).toMatch(/client\s+orders\s+spiffe:\/\/cluster\.local\/ns\/default\/sa\/client\s+\S+\/sa\/orders\s+93\.46%/);
  });

  it('puts p50, p95 and p99 within one histogram bucket of the true latencies', async () => {
    const { cp, client } = await ordersMesh();
    // Delays chosen inside buckets: 60 × 7 ms, 30 × 35 ms, 10 × 150 ms.
    const delays = [...Array(60).fill(7), ...Array(30).fill(35), ...Array(10).fill(150)] as number[];
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    const measured: number[] = [];
    for (let i = 0; i < delays.length; i += 10) {
      await Promise.all(
        delays.slice(i, i + 10).map(async (ms) => {
          const start = performance.now();
          const reply = await send({ port: client.outboundPort, host: 'orders', path: `/delay/${ms}`, agent });
          measured.push(performance.now() - start);
          expect(reply.status).toBe(200);
        }),
      );
    }
    agent.destroy();
    await waitUntil(
      async () => (await meshEdges(cp.adminUrl)).some((e) => e.metrics.requests === 100),
      10_000,
      () => 'edge at 100',
    );
    const edge = (await meshEdges(cp.adminUrl))[0];
    // Two truths bound what the sidecars can honestly report: the app's own delay (nothing
    // can be faster) and what this client measured (which also holds its own scheduling on
    // a busy machine, so nothing should be slower). The report must fall within one bucket
    // of that range — on a quiet machine the two meet in the same bucket.
    const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.ceil(q * values.length) - 1] as number;
    const bounds = [0.5, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
    const bucket = (ms: number) => bounds.findIndex((b) => ms <= b);
    for (const [q, reported] of [
      [0.5, edge?.metrics.latencyMs?.p50],
      [0.95, edge?.metrics.latencyMs?.p95],
      [0.99, edge?.metrics.latencyMs?.p99],
    ] as const) {
      expect(reported, `p${q * 100}`).toBeDefined();
      const floor = quantile(delays, q);
      const seen = quantile(measured, q);
      const at = bucket(reported as number);
      const why = `p${q * 100}: reported ${reported} ms; the app took ${floor} ms, the client saw ${seen.toFixed(1)} ms`;
      expect(at, why).toBeGreaterThanOrEqual(bucket(floor) - 1);
      expect(at, why).toBeLessThanOrEqual(bucket(seen) + 1);
    }
  });

  it('writes one access log line per request with trace id, flags, upstream, durations and peers', async () => {
    const file = join(tempDir(), 'access.log');
    const { client } = await ordersMesh(['--telemetry-flush-ms', '100', '--access-log', file]);
    const ok = await send({
      port: client.outboundPort,
      host: 'orders',
      path: '/ok?q=1',
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    expect(ok.status).toBe(200);
    expect((await send({ port: client.outboundPort, host: 'nowhere', path: '/' })).status).toBe(404);
    let lines: Record<string, unknown>[] = [];
    await waitUntil(
      () => {
        try {
          lines = readFileSync(file, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        } catch {
          lines = [];
        }
        return lines.length >= 2;
      },
      10_000,
      () => 'two access log lines',
    );
    expect(lines[0]).toMatchObject({
      log: 'access',
      direction: 'outbound',
      method: 'GET',
      path: '/ok?q=1',
      status: 200,
      response_flags: '-',
      source: 'client',
      destination: 'orders',
      destination_version: 'v1',
      route: 'default/orders/default',
      attempts: 1,
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      source_identity: CLIENT_ID,
      destination_identity: ORDERS_ID,
      response_bytes: 2,
    });
    expect(lines[0]?.['upstream']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(lines[0]?.['duration_ms']).toBeGreaterThan(0);
    expect(lines[0]?.['response_start_ms']).toBeGreaterThan(0);
    expect(lines[0]?.['request_id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines[1]).toMatchObject({ status: 404, response_flags: 'NR', destination: 'unknown', authority: 'nowhere', attempts: 0 });
    // The synthetic answer's body counts as what went downstream.
    expect(lines[1]?.['response_bytes']).toBeGreaterThan(10);
  });

  it("counts what an AuthorizationPolicy refuses at the inbound hop: 403, RBAC, the caller's identity", async () => {
    const onlyWeb = stringify({
      apiVersion: 'weft.io/v1alpha1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'orders-from-web' },
      spec: { service: 'orders', rules: [{ from: [{ service: 'web' }] }] },
    });
    const { cp, client, orders } = await ordersMesh(FAST_TELEMETRY, ['web'], [onlyWeb]);
    for (let i = 0; i < 3; i++) expect((await send({ port: client.outboundPort, host: 'orders' })).status).toBe(403);
    const inb = { direction: 'inbound', source_service: 'client', source_identity: CLIENT_ID, destination_service: 'orders' };
    const metrics = await scrape(orders.adminPort);
    expect(promValue(metrics, 'weft_requests_total', { ...inb, status_code: '403', response_flags: 'RBAC' })).toBe(3);
    expect(promValue(metrics, 'weft_requests_total', { ...inb, status_code: '200' })).toBeUndefined();
    // The caller's sidecar passes the peer's answer on as it came.
    const out = { direction: 'outbound', destination_service: 'orders', status_code: '403', response_flags: '' };
    expect(promValue(await scrape(client.adminPort), 'weft_requests_total', out)).toBe(3);
    await waitUntil(
      async () => (await meshStat(cp.adminUrl)).find((s) => s.service === 'orders')?.inbound?.requests === 3,
      10_000,
      () => 'three refusals counted by the control plane',
    );
  });

  it('samples the access log and turns telemetry off entirely with --telemetry off', async () => {
    const { cp, client } = await ordersMesh(
      ['--telemetry-flush-ms', '100', '--access-log', 'stdout', '--access-log-sample-rate', '0', '--trace-sample-rate', '1'],
      ['plain'],
    );
    for (let i = 0; i < 5; i++) await send({ port: client.outboundPort, host: 'orders' });
    const metrics = await scrape(client.adminPort);
    expect(promValue(metrics, 'weft_access_log_sampled_out_total')).toBe(5);
    expect(client.child.recentOutput()).not.toContain('"log":"access"');

    // A pair with telemetry off: a caller's sidecar and the sidecar of "plain".
    const app = await startApp('plain');
    const off = ['--telemetry', 'off'];
    const [offClient, offServer] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress, args: off }),
      startSidecar({ service: 'plain', controlPlane: cp.xdsAddress, appPort: app.port, args: off }),
    ]);
    await waitForMeshSync(cp, 4);
    const reply = await send({ port: offClient.outboundPort, host: 'plain' });
    expect(reply.status).toBe(200);
    expect(app.received[0]?.headers['traceparent']).toBeUndefined();
    expect(app.received[0]?.headers['x-weft-source']).toBeUndefined();
    for (const sidecar of [offClient, offServer]) {
      expect(promValue(await scrape(sidecar.adminPort), 'weft_requests_total')).toBeUndefined();
    }
  });
});
