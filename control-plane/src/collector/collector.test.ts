// The collector on a real gRPC server (127.0.0.1:0, TLS with client certificates from a test
// CA) with a raw client stream: each batch is applied once per (node, incarnation), however
// often it is resent, and only a caller whose certificate names the announced service may report.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  CertificateAuthority,
  Credentials,
  certificateProvider,
  createRootCa,
  generateWorkloadKey,
  publicKeyInfo,
  TrustBundle,
  toPem,
} from '@weft/certs';
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

const root = createRootCa({ trustDomain: 'cluster.local', validityMs: 86_400_000 });
const loaded = CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem, trustDomain: 'cluster.local' });
if (!loaded.ok) throw new Error(loaded.errors.join('; '));
const ca = loaded.ca;

function keyPair(spiffeId: string): grpc.KeyCertPair {
  const key = generateWorkloadKey();
  const issued = ca.issue({ publicKey: publicKeyInfo(key), spiffeId, ttlMs: 600_000 });
  return {
    private_key: Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }) as string),
    cert_chain: Buffer.from(issued.chain.map((c) => toPem('CERTIFICATE', c)).join('')),
  };
}

/** A collector behind TLS that asks for (but, like the control plane, does not demand) a client certificate. */
async function start(caller: 'web' | 'none' = 'web') {
  const collector = new Collector({ log: pino({ level: 'silent' }), trustDomain: 'cluster.local' });
  const server = new grpc.Server();
  collector.register(server);
  const rootPem = Buffer.from(root.certPem);
  const bundle = TrustBundle.fromPem(root.certPem, 'test');
  if (!bundle.ok) throw new Error(bundle.error);
  const serving = new Credentials(bundle.bundle);
  const key = generateWorkloadKey();
  serving.setCertificate(
    key,
    ca.issue({ publicKey: publicKeyInfo(key), spiffeId: 'spiffe://cluster.local/weft/control-plane', ttlMs: 600_000 }).chain,
  );
  const provider = certificateProvider(serving);
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  const port = await new Promise<number>((done, fail) => server.bindAsync('127.0.0.1:0', credentials, (e, p) => (e ? fail(e) : done(p))));
  cleanups.push(() => server.forceShutdown());
  const pair = caller === 'web' ? keyPair('spiffe://cluster.local/ns/default/sa/web') : undefined;
  const client = new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createSsl(rootPem, pair?.private_key ?? null, pair?.cert_chain ?? null, { checkServerIdentity: () => undefined }),
    { 'grpc.ssl_target_name_override': 'control-plane.weft' },
  );
  cleanups.push(() => client.close());
  return { collector, client };
}

function refusal(client: grpc.Client, hello: Record<string, unknown>): Promise<grpc.ServiceError> {
  const stream = (client as unknown as { report(): Stream }).report();
  const error = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
  stream.write(create(ReportRequestSchema, { message: { case: 'hello', value: hello } }));
  return error;
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
    const e = await refusal(client, { nodeId: '', service: 'web', incarnation: 'i' });
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toContain('hello.node_id');
    expect(e.details).toContain('hello.latency_bounds_ms');
  });

  it('refuses a caller without a workload certificate (UNAUTHENTICATED)', async () => {
    const { client, collector } = await start('none');
    const e = await refusal(client, { nodeId: 'web-1', service: 'web', incarnation: 'i', latencyBoundsMs: [...COLLECTOR_BOUNDS_MS] });
    expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(e.details).toContain('no client certificate');
    expect(collector.sidecars()).toEqual([]);
  });

  it("refuses a caller that announces another service than its certificate's (PERMISSION_DENIED)", async () => {
    const { client, collector } = await start();
    for (const claim of [{ service: 'orders' }, { service: 'web', namespace: 'prod' }]) {
      const e = await refusal(client, { nodeId: 'web-1', incarnation: 'i', latencyBoundsMs: [...COLLECTOR_BOUNDS_MS], ...claim });
      expect(e.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(e.details).toContain('spiffe://cluster.local/ns/default/sa/web');
    }
    expect(collector.sidecars()).toEqual([]);
  });
});
