// The collector on a real gRPC server (127.0.0.1:0) with a raw client stream: each batch is
// applied once per (node, incarnation), however often it is resent.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  Direction,
  type ReportRequest,
  ReportRequestSchema,
  type ReportResponse,
  TelemetryService,
  toGrpcServiceDefinition,
} from '@weft/proto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { COLLECTOR_BOUNDS_MS, Collector } from './collector.ts';
import { edgeStats } from './mesh-stats.ts';

type Stream = grpc.ClientDuplexStream<ReportRequest, ReportResponse>;
const Client = grpc.makeGenericClientConstructor(toGrpcServiceDefinition(TelemetryService), 'TelemetryService');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function start() {
  const collector = new Collector({ log: pino({ level: 'silent' }) });
  const server = new grpc.Server();
  collector.register(server);
  const port = await new Promise<number>((done, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : done(p))),
  );
  cleanups.push(() => server.forceShutdown());
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return { collector, client };
}

function open(client: grpc.Client, incarnation: string): { stream: Stream; acks: bigint[] } {
  const stream = (client as unknown as { report(): Stream }).report();
  const acks: bigint[] = [];
  stream.on('data', (r: ReportResponse) => {
    if (r.message.case === 'ack') acks.push(r.message.value.sequence);
  });
  stream.on('error', () => {});
  stream.write(
    create(ReportRequestSchema, {
      message: {
        case: 'hello',
        value: { nodeId: 'web-1', service: 'web', namespace: 'default', incarnation, latencyBoundsMs: [...COLLECTOR_BOUNDS_MS] },
      },
    }),
  );
  return { stream, acks };
}

function batch(sequence: bigint, requests: number): ReportRequest {
  const buckets = new Array<bigint>(COLLECTOR_BOUNDS_MS.length + 1).fill(0n);
  buckets[3] = BigInt(requests);
  return create(ReportRequestSchema, {
    message: {
      case: 'batch',
      value: {
        sequence,
        endUnixMs: BigInt(Date.now()),
        requests: [
          {
            labels: {
              direction: Direction.OUTBOUND,
              sourceService: 'web',
              sourceNamespace: 'default',
              destinationService: 'orders',
              destinationNamespace: 'default',
              statusCode: 200,
            },
            requests: BigInt(requests),
            latencyBuckets: buckets,
          },
        ],
      },
    },
  });
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const edgeRequests = (c: Collector) => edgeStats(c.windows, 600_000)[0]?.metrics.requests ?? 0;

describe('collector', () => {
  it('applies each batch once per incarnation, however often it is resent', async () => {
    const { collector, client } = await start();
    const first = open(client, 'inc-1');
    first.stream.write(batch(1n, 10));
    first.stream.write(batch(2n, 5));
    await until(() => first.acks.length === 2);
    first.stream.cancel();

    // Reconnected: 1 and 2 come again (their ACKs were lost, say), then 3.
    const second = open(client, 'inc-1');
    for (const [seq, n] of [
      [1n, 10],
      [2n, 5],
      [3n, 1],
    ] as const)
      second.stream.write(batch(seq, n));
    await until(() => second.acks.length === 3);
    expect(second.acks).toEqual([1n, 2n, 3n]);
    expect(edgeRequests(collector)).toBe(16);
    expect(collector.duplicates).toBe(2);

    // A restarted sidecar (new incarnation) counts from 1 again.
    const third = open(client, 'inc-2');
    third.stream.write(batch(1n, 4));
    await until(() => third.acks.length === 1);
    expect(edgeRequests(collector)).toBe(20);
  });

  it('refuses a stream whose hello is invalid, naming the field', async () => {
    const { client } = await start();
    const stream = (client as unknown as { report(): Stream }).report();
    const error = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    stream.write(
      create(ReportRequestSchema, { message: { case: 'hello', value: { nodeId: 'x', service: 'Not A Label', incarnation: 'i' } } }),
    );
    const e = await error;
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toContain('hello.service');
    expect(e.details).toContain('hello.latency_bounds_ms');
  });
});
