// The control plane's end of the telemetry streams: checks who is calling (the SPIFFE ID of
// the verified client certificate must be the service and namespace the Hello announces,
// as for discovery), validates the Hello, applies
// every batch exactly once (per node and incarnation, only sequences above the last one
// applied; duplicates after a reconnect are acknowledged and ignored), feeds the sliding
// windows, the trace store and the OTLP forwarder, and carries taps both ways.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  type Batch,
  Direction as DirectionEnum,
  type Hello,
  type ReportRequest,
  type ReportResponse,
  ReportResponseSchema,
  type RequestLabels,
  TelemetryService,
  toGrpcServiceDefinition,
} from '@weft/proto';
import type { Logger } from 'pino';
import { peerWorkload } from '../identity/peer-identity.ts';
import { rebucket } from './latency-histogram.ts';
import type { OtlpForwarder } from './otlp-forwarder.ts';
import { toRequestView } from './request-view.ts';
import { type Direction, type SeriesLabels, SlidingWindows } from './sliding-windows.ts';
import { type TapFilter, TapHub, type TapSession } from './tap-hub.ts';
import { TraceStore } from './trace-store.ts';

/** The bounds the windows keep; sidecars with other bounds are re-bucketed onto these. */
export const COLLECTOR_BOUNDS_MS: readonly number[] = [
  0.5, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000,
];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** How long the last applied sequence of a gone sidecar is remembered. */
const MARK_TTL_MS = 60 * 60 * 1000;

type Call = grpc.ServerDuplexStream<ReportRequest, ReportResponse>;

interface Session extends TapSession {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly bounds: readonly number[];
  readonly sameBounds: boolean;
  readonly connectedAt: number;
  batches: number;
  lastBatchAt: number;
  dropped: { batches: number; requests: number; spans: number };
}

export interface CollectorOptions {
  readonly log: Logger;
  /** Callers must hold a workload certificate of this trust domain. */
  readonly trustDomain: string;
  readonly otlp?: OtlpForwarder | undefined;
  readonly slotMs?: number;
  readonly now?: () => number;
}

export class Collector {
  readonly windows: SlidingWindows;
  readonly traces = new TraceStore();
  readonly taps = new TapHub();
  readonly #log: Logger;
  readonly #otlp: OtlpForwarder | undefined;
  readonly #trustDomain: string;
  readonly #sessions = new Map<Call, Session>();
  /** `${nodeId}/${incarnation}` → last applied sequence and when. */
  readonly #marks = new Map<string, { sequence: bigint; at: number }>();
  duplicates = 0;

  constructor(options: CollectorOptions) {
    this.#log = options.log.child({ component: 'collector' });
    this.#otlp = options.otlp;
    this.#trustDomain = options.trustDomain;
    this.windows = new SlidingWindows({
      bounds: COLLECTOR_BOUNDS_MS,
      ...(options.slotMs !== undefined ? { slotMs: options.slotMs } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  }

  register(server: grpc.Server): void {
    server.addService(toGrpcServiceDefinition(TelemetryService), { report: (call: Call) => this.#open(call) });
  }

  /** Connected sidecars per service, for the mesh view. */
  sidecars(): {
    nodeId: string;
    service: string;
    namespace: string;
    labels: Readonly<Record<string, string>>;
    batches: number;
    lastBatchAt: number;
    dropped: Session['dropped'];
  }[] {
    return [...this.#sessions.values()].map((s) => ({
      nodeId: s.nodeId,
      service: s.service,
      namespace: s.namespace,
      labels: s.labels,
      batches: s.batches,
      lastBatchAt: s.lastBatchAt,
      dropped: s.dropped,
    }));
  }

  close(): void {
    for (const call of this.#sessions.keys()) call.end();
    this.#sessions.clear();
  }

  #open(call: Call): void {
    let session: Session | undefined;
    call.on('data', (request: ReportRequest) => {
      const m = request.message;
      if (m.case === 'hello') {
        if (session) return;
        const checked = this.#check(call, m.value);
        if (!checked.ok) {
          this.#log.warn({ peer: call.getPeer(), problem: checked.details }, 'telemetry stream refused');
          call.emit('error', { code: checked.code, details: checked.details });
          return;
        }
        session = this.#join(call, m.value, checked.namespace);
      } else if (!session) {
        call.emit('error', { code: grpc.status.FAILED_PRECONDITION, details: 'the first message must be hello' });
      } else if (m.case === 'batch') {
        this.#onBatch(call, session, m.value);
      } else if (m.case === 'tapEvents') {
        this.taps.deliver(m.value.tapId, m.value.events.map(toRequestView), Number(m.value.skipped));
      }
    });
    const closed = () => {
      const s = this.#sessions.get(call);
      if (!s) return;
      this.#sessions.delete(call);
      this.taps.leave(s);
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('cancelled', closed);
    call.on('error', closed);
    call.on('close', closed);
  }

  /** Who may report: a workload certificate naming the announced service and namespace
   * (an empty namespace means the certificate's), and a well-formed Hello. */
  #check(call: Call, hello: Hello): { ok: true; namespace: string } | { ok: false; code: grpc.status; details: string } {
    const workload = peerWorkload(call, this.#trustDomain);
    if (!workload.ok) {
      return {
        ok: false,
        code: grpc.status.UNAUTHENTICATED,
        details: `telemetry needs mutual TLS with a workload certificate: ${workload.error}`,
      };
    }
    const { serviceAccount, namespace } = workload.identity;
    if (hello.service !== serviceAccount || (hello.namespace !== '' && hello.namespace !== namespace)) {
      return {
        ok: false,
        code: grpc.status.PERMISSION_DENIED,
        details: `hello claims service ${hello.service}.${hello.namespace || namespace}, but the client certificate is ${workload.spiffeId}`,
      };
    }
    const problem = validateHello(hello);
    return problem ? { ok: false, code: grpc.status.INVALID_ARGUMENT, details: problem } : { ok: true, namespace };
  }

  #join(call: Call, hello: Hello, namespace: string): Session {
    const bounds = [...hello.latencyBoundsMs];
    const session: Session = {
      nodeId: hello.nodeId,
      service: hello.service,
      namespace,
      incarnation: hello.incarnation,
      labels: { ...hello.labels },
      bounds,
      sameBounds: bounds.length === COLLECTOR_BOUNDS_MS.length && bounds.every((b, i) => b === COLLECTOR_BOUNDS_MS[i]),
      connectedAt: Date.now(),
      batches: 0,
      lastBatchAt: 0,
      dropped: { batches: 0, requests: 0, spans: 0 },
      startTap: (id: string, filter: TapFilter, maxPerSecond: number) =>
        call.write(
          create(ReportResponseSchema, {
            message: {
              case: 'tapStart',
              value: {
                tapId: id,
                maxEventsPerSecond: maxPerSecond,
                filter: {
                  pathPrefix: filter.pathPrefix,
                  method: filter.method,
                  statusMin: filter.statusMin,
                  statusMax: filter.statusMax,
                  direction:
                    filter.direction === 'inbound'
                      ? DirectionEnum.INBOUND
                      : filter.direction === 'outbound'
                        ? DirectionEnum.OUTBOUND
                        : DirectionEnum.UNSPECIFIED,
                },
              },
            },
          }),
        ),
      stopTap: (id: string) => call.write(create(ReportResponseSchema, { message: { case: 'tapStop', value: { tapId: id } } })),
    };
    this.#sessions.set(call, session);
    this.taps.join(session);
    this.#log.debug({ node: session.nodeId, service: session.service }, 'telemetry stream open');
    return session;
  }

  #onBatch(call: Call, session: Session, batch: Batch): void {
    const key = `${session.nodeId}/${session.incarnation}`;
    const mark = this.#marks.get(key);
    const now = Date.now();
    if (mark && batch.sequence <= mark.sequence) {
      // Resent after a reconnect: applied already. ACK again so the sidecar lets go of it.
      this.duplicates += 1;
    } else {
      this.#apply(session, batch);
      this.#marks.set(key, { sequence: batch.sequence, at: now });
      if (this.#marks.size % 256 === 0) this.#expireMarks(now);
    }
    session.batches += 1;
    session.lastBatchAt = now;
    call.write(create(ReportResponseSchema, { message: { case: 'ack', value: { sequence: batch.sequence } } }));
  }

  #apply(session: Session, batch: Batch): void {
    const at = Number(batch.endUnixMs);
    for (const series of batch.requests) {
      if (!series.labels) continue;
      const counts = series.latencyBuckets.map(Number);
      this.windows.addRequests(at, toLabels(series.labels), {
        requests: Number(series.requests),
        sumMs: series.latencySumMs,
        requestBytes: Number(series.requestBytes),
        responseBytes: Number(series.responseBytes),
        buckets: session.sameBounds ? counts : rebucket(counts, session.bounds, COLLECTOR_BOUNDS_MS),
      });
    }
    for (const t of batch.tcp) {
      this.windows.addTcp(at, session.service, session.namespace, toDirection(t.direction), {
        opened: Number(t.opened),
        closed: Number(t.closed),
        receivedBytes: Number(t.receivedBytes),
        sentBytes: Number(t.sentBytes),
      });
    }
    for (const record of batch.spans) {
      const view = toRequestView(record);
      this.traces.add(view);
      this.#otlp?.add(view);
    }
    if (batch.dropped) {
      const dropped = {
        batches: Number(batch.dropped.batches),
        requests: Number(batch.dropped.requests),
        spans: Number(batch.dropped.spans),
      };
      if (dropped.batches > session.dropped.batches) {
        this.#log.warn({ node: session.nodeId, dropped }, 'sidecar dropped telemetry while the control plane was slow or away');
      }
      session.dropped = dropped;
    }
  }

  #expireMarks(now: number): void {
    for (const [key, mark] of this.#marks) if (now - mark.at > MARK_TTL_MS) this.#marks.delete(key);
  }
}

function validateHello(hello: Hello): string | undefined {
  const problems: string[] = [];
  if (!hello.nodeId || hello.nodeId.length > 253) problems.push('hello.node_id: required, at most 253 characters');
  if (!DNS_LABEL.test(hello.service)) problems.push(`hello.service: "${hello.service}" is not a DNS label`);
  if (hello.namespace && !DNS_LABEL.test(hello.namespace)) problems.push(`hello.namespace: "${hello.namespace}" is not a DNS label`);
  if (!hello.incarnation) problems.push('hello.incarnation: required');
  const b = hello.latencyBoundsMs;
  if (b.length === 0 || b.length > 64 || b.some((x, i) => !(x > 0) || (i > 0 && x <= (b[i - 1] as number)))) {
    problems.push('hello.latency_bounds_ms: 1–64 ascending positive bounds');
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

function toDirection(d: DirectionEnum): Direction {
  return d === DirectionEnum.INBOUND ? 'inbound' : 'outbound';
}

function toLabels(l: RequestLabels): SeriesLabels {
  return {
    direction: toDirection(l.direction),
    sourceService: l.sourceService,
    sourceNamespace: l.sourceNamespace,
    sourceVersion: l.sourceVersion,
    sourceIdentity: l.sourceIdentity,
    destinationService: l.destinationService,
    destinationNamespace: l.destinationNamespace,
    destinationVersion: l.destinationVersion,
    destinationIdentity: l.destinationIdentity,
    route: l.route,
    statusCode: l.statusCode,
    responseFlags: l.responseFlags,
    grpcStatus: l.grpcStatus,
  };
}
