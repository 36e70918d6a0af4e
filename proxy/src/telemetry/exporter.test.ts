// The exporter against a real gRPC server on 127.0.0.1:0 that plays the control plane:
// one that never acknowledges (slow), then one that does.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { type ReportRequest, type ReportResponse, ReportResponseSchema, TelemetryService, toGrpcServiceDefinition } from '@weft/proto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryExporter } from './exporter.ts';
import { RequestMetrics } from './request-metrics.ts';
import { RequestRecord } from './request-record.ts';
import { Taps } from './tap.ts';
import { TcpMetrics } from './tcp-metrics.ts';

type Call = grpc.ServerDuplexStream<ReportRequest, ReportResponse>;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function fakeControlPlane(ack: boolean) {
  const server = new grpc.Server();
  const received: bigint[] = [];
  const calls: Call[] = [];
  server.addService(toGrpcServiceDefinition(TelemetryService), {
    report: (call: Call) => {
      calls.push(call);
      call.on('data', (m: ReportRequest) => {
        if (m.message.case !== 'batch') return;
        received.push(m.message.value.sequence);
        if (ack) call.write(create(ReportResponseSchema, { message: { case: 'ack', value: { sequence: m.message.value.sequence } } }));
      });
      call.on('error', () => {});
    },
  });
  const port = await new Promise<number>((done, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : done(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return { server, port, received, calls };
}

function exporterFor(port: number, requests: RequestMetrics, maxBatches: number) {
  const exporter = new TelemetryExporter({
    target: `127.0.0.1:${port}`,
    // The buffering is under test here; mTLS to the collector is tested end to end.
    credentials: grpc.credentials.createInsecure(),
    node: { id: 'n1', service: 'web', namespace: 'default', labels: {}, proxyVersion: 'test' },
    incarnation: 'i1',
    requests,
    tcp: new TcpMetrics(),
    taps: new Taps(() => {}),
    log: pino({ level: 'silent' }),
    flushMs: 60_000,
    maxBatches,
    maxSpansPerBatch: 10,
    backoff: { baseMs: 10, maxMs: 50 },
  });
  cleanups.push(() => exporter.close());
  return exporter;
}

function traffic(requests: RequestMetrics, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = new RequestRecord('outbound', 0);
    r.status = 200;
    requests.observe(r);
  }
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('telemetry exporter', () => {
  it('keeps at most maxBatches unacknowledged batches, dropping the oldest and counting what was in them', async () => {
    const slow = await fakeControlPlane(false);
    const requests = new RequestMetrics();
    const exporter = exporterFor(slow.port, requests, 3);
    exporter.start();
    for (let i = 1; i <= 10; i++) {
      traffic(requests, i);
      exporter.flush();
    }
    expect(exporter.bufferedBatches).toBe(3);
    expect(exporter.dropped).toEqual({ batches: 7, requests: 1 + 2 + 3 + 4 + 5 + 6 + 7, spans: 0 });
    await until(() => slow.received.length >= 3);
    // Nothing without new traffic: an empty interval makes no batch.
    exporter.flush();
    expect(exporter.batches).toBe(10);
  });

  it('resends unacknowledged batches in order after a reconnect, and forgets acknowledged ones', async () => {
    const cp = await fakeControlPlane(false);
    const requests = new RequestMetrics();
    const exporter = exporterFor(cp.port, requests, 100);
    exporter.start();
    traffic(requests, 1);
    exporter.flush();
    traffic(requests, 1);
    exporter.flush();
    await until(() => cp.received.length === 2);
    // The control plane acknowledges the first, then the stream breaks.
    (cp.calls[0] as Call).write(create(ReportResponseSchema, { message: { case: 'ack', value: { sequence: 1n } } }));
    await until(() => exporter.ackedSequence === 1n);
    (cp.calls[0] as Call).emit('error', { code: grpc.status.UNAVAILABLE });
    (cp.calls[0] as Call).end();
    await until(() => cp.calls.length === 2 && cp.received.length === 3);
    expect(cp.received).toEqual([1n, 2n, 2n]);
    expect(exporter.bufferedBatches).toBe(1);
  });
});
