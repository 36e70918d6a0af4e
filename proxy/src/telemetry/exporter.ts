// The sidecar's end of the telemetry stream: every flush interval it turns the metric
// deltas and finished spans into a numbered Batch (encoded at once, batch-encoding.ts),
// keeps it until the control plane ACKs
// it, and resends the unacknowledged ones after a reconnect. The buffer is bounded: when
// full, the oldest batch is dropped and counted (requests and spans in it). Tap events go
// out as soon as they queue, best effort. It never touches the request path.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  Direction as DirectionEnum,
  type ReportRequest,
  ReportRequestSchema,
  type ReportResponse,
  TelemetryService,
  toGrpcServiceDefinition,
} from '@weft/proto';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from '../xds/backoff.ts';
import { encodeBatchRequest, encodeTapRequest, writeSpan } from './batch-encoding.ts';
import { LATENCY_BOUNDS_MS, type RequestMetrics } from './request-metrics.ts';
import type { Direction, RequestRecord } from './request-record.ts';
import { SpanBuffer } from './span-buffer.ts';
import type { Taps } from './tap.ts';
import type { TcpMetrics } from './tcp-metrics.ts';

export interface ExporterOptions {
  readonly target: string;
  /** mTLS with this workload's certificate (the control plane's gRPC port is TLS only, and
   * the collector accepts batches only for the service the certificate names). */
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions?: grpc.ChannelOptions;
  readonly node: { id: string; service: string; namespace: string; labels: Readonly<Record<string, string>>; proxyVersion: string };
  readonly incarnation: string;
  readonly requests: RequestMetrics;
  readonly tcp: TcpMetrics;
  readonly taps: Taps;
  readonly log: Logger;
  readonly flushMs: number;
  /** Unacknowledged batches kept at most; older ones are dropped and counted. */
  readonly maxBatches: number;
  /** Spans kept between two flushes at most; more are dropped and counted. */
  readonly maxSpansPerBatch: number;
  readonly backoff: BackoffOptions;
}

type Stream = grpc.ClientDuplexStream<ReportRequest, ReportResponse>;

/** Batches are written already encoded (batch-encoding.ts); other messages go through protobuf-es. */
function clientDefinition(): grpc.ServiceDefinition {
  const definition = toGrpcServiceDefinition(TelemetryService);
  const report = definition['report'] as grpc.MethodDefinition<unknown, unknown>;
  const serialize = report.requestSerialize;
  return {
    ...definition,
    report: {
      ...report,
      requestSerialize: (message: unknown) =>
        message instanceof Uint8Array ? Buffer.from(message.buffer, message.byteOffset, message.byteLength) : serialize(message),
    },
  };
}

const TelemetryClient = grpc.makeGenericClientConstructor(clientDefinition(), 'TelemetryService');

interface Queued {
  readonly sequence: bigint;
  /** The encoded ReportRequest. */
  bytes: Uint8Array;
  readonly requests: number;
  readonly spans: number;
}

export class TelemetryExporter {
  readonly #o: ExporterOptions;
  readonly #log: Logger;
  readonly #client: grpc.Client;
  readonly #backoff: Backoff;
  #stream: Stream | undefined;
  #ready = false;
  #waitingDrain = false;
  #timer: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #tapFlush: NodeJS.Immediate | undefined;
  #closed = false;
  #sequence = 0n;
  #lastFlushMs = Date.now();
  /** Finished spans, encoded as they finish, waiting for the next batch. */
  readonly #spans = new SpanBuffer();
  readonly #queue: Queued[] = [];
  /** Highest sequence written on the current stream. */
  #sentUpTo = 0n;
  readonly dropped = { batches: 0, requests: 0, spans: 0 };
  ackedSequence = 0n;

  constructor(options: ExporterOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'telemetry', controlPlane: options.target });
    this.#backoff = new Backoff(options.backoff);
    this.#client = new TelemetryClient(options.target, options.credentials, {
      ...options.channelOptions,
      'grpc.initial_reconnect_backoff_ms': options.backoff.baseMs,
      'grpc.max_reconnect_backoff_ms': options.backoff.maxMs,
      'grpc.keepalive_time_ms': 15_000,
      'grpc.keepalive_timeout_ms': 5_000,
    });
  }

  /** Batches cut since the start (the last sequence number). */
  get batches(): number {
    return Number(this.#sequence);
  }

  get bufferedBatches(): number {
    return this.#queue.length;
  }

  start(): void {
    this.#timer = setInterval(() => this.flush(), this.#o.flushMs);
    this.#timer.unref();
    this.#open();
  }

  addSpan(r: RequestRecord): void {
    if (this.#spans.count >= this.#o.maxSpansPerBatch) {
      this.dropped.spans += 1;
      return;
    }
    this.#spans.append(writeSpan(r, this.#o.node.id));
  }

  /** Taps have events waiting: send them at the end of this turn of the event loop. */
  tapPending(): void {
    this.#tapFlush ??= setImmediate(() => this.#sendTaps());
  }

  /** Cuts a batch now (the interval calls it; close() calls it last). */
  flush(): void {
    const now = Date.now();
    const requests = this.#o.requests.takeDeltas();
    const tcp = this.#o.tcp.takeDeltas();
    const spans = this.#spans;
    if (requests.length === 0 && tcp.length === 0 && spans.count === 0) {
      this.#lastFlushMs = now;
      return;
    }
    this.#sequence += 1n;
    let requestCount = 0;
    for (const d of requests) requestCount += d.requests;
    const queued: Queued = { sequence: this.#sequence, bytes: new Uint8Array(0), requests: requestCount, spans: spans.count };
    this.#queue.push(queued);
    while (this.#queue.length > this.#o.maxBatches) {
      const oldest = this.#queue.shift() as Queued;
      this.dropped.batches += 1;
      this.dropped.requests += oldest.requests;
      this.dropped.spans += oldest.spans;
      if (this.dropped.batches === 1 || this.dropped.batches % 100 === 0) {
        this.#log.warn({ dropped: this.dropped, buffered: this.#queue.length }, 'telemetry buffer full; dropped the oldest batch');
      }
    }
    queued.bytes = encodeBatchRequest({
      sequence: this.#sequence,
      startUnixMs: this.#lastFlushMs,
      endUnixMs: now,
      requests,
      tcp,
      spans: spans.bytes(),
      dropped: { ...this.dropped },
    });
    spans.clear();
    this.#lastFlushMs = now;
    this.#sendQueued();
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#reconnect);
    if (this.#tapFlush) clearImmediate(this.#tapFlush);
    const stream = this.#stream;
    this.#stream = undefined;
    // Give the last batch a moment on the wire; the control plane dedups anything resent.
    stream?.end();
    setTimeout(() => {
      stream?.cancel();
      this.#client.close();
    }, 200).unref();
  }

  #open(): void {
    if (this.#closed) return;
    const stream = (this.#client as unknown as { report(): Stream }).report();
    this.#stream = stream;
    this.#ready = false;
    stream.on('data', (response: ReportResponse) => this.#onResponse(stream, response));
    stream.on('error', (error: grpc.ServiceError) => this.#onBroken(stream, `${grpc.status[error.code] ?? error.code}: ${error.details}`));
    stream.on('end', () => this.#onBroken(stream, 'stream ended by the control plane'));
    const { node } = this.#o;
    stream.write(
      create(ReportRequestSchema, {
        message: {
          case: 'hello',
          value: {
            nodeId: node.id,
            service: node.service,
            namespace: node.namespace,
            labels: { ...node.labels },
            incarnation: this.#o.incarnation,
            latencyBoundsMs: [...LATENCY_BOUNDS_MS],
            proxyVersion: node.proxyVersion,
          },
        },
      }),
    );
    this.#ready = true;
    this.#waitingDrain = false;
    this.#sentUpTo = 0n;
    this.#sendQueued();
  }

  #sendQueued(): void {
    const stream = this.#stream;
    if (!stream || !this.#ready || this.#waitingDrain) return;
    for (const queued of this.#queue) {
      if (queued.sequence <= this.#sentUpTo) continue;
      const more = stream.write(queued.bytes as unknown as ReportRequest);
      this.#sentUpTo = queued.sequence;
      // A control plane that reads slowly must not make grpc-js buffer without bound:
      // the rest waits in our bounded queue until the stream drains.
      if (!more) {
        this.#waitingDrain = true;
        stream.once('drain', () => {
          this.#waitingDrain = false;
          if (stream === this.#stream) this.#sendQueued();
        });
        return;
      }
    }
  }

  #sendTaps(): void {
    this.#tapFlush = undefined;
    const drained = this.#o.taps.drain();
    const stream = this.#stream;
    if (!stream || !this.#ready) return;
    for (const d of drained) {
      stream.write(encodeTapRequest(d.tapId, d.events, d.skipped, this.#o.node.id) as unknown as ReportRequest);
    }
  }

  #onResponse(stream: Stream, response: ReportResponse): void {
    if (stream !== this.#stream) return;
    this.#backoff.reset();
    const m = response.message;
    if (m.case === 'ack') {
      const acked = m.value.sequence;
      if (acked > this.ackedSequence) this.ackedSequence = acked;
      while (this.#queue.length > 0 && (this.#queue[0] as Queued).sequence <= acked) this.#queue.shift();
    } else if (m.case === 'tapStart') {
      const f = m.value.filter;
      this.#o.taps.start({
        id: m.value.tapId,
        pathPrefix: f?.pathPrefix ?? '',
        method: f?.method ?? '',
        statusMin: f?.statusMin ?? 0,
        statusMax: f?.statusMax ?? 0,
        direction: fromDirection(f?.direction ?? DirectionEnum.UNSPECIFIED),
        maxPerSecond: m.value.maxEventsPerSecond || 100,
      });
      this.#log.debug({ tap: m.value.tapId }, 'tap started');
    } else if (m.case === 'tapStop') {
      this.#o.taps.stop(m.value.tapId);
    }
  }

  #onBroken(stream: Stream, reason: string): void {
    if (stream !== this.#stream || this.#closed) return;
    this.#stream = undefined;
    this.#ready = false;
    stream.cancel();
    // A tap belongs to one control-plane stream; the control plane restarts it if it still wants it.
    this.#o.taps.clear();
    const delay = this.#backoff.next();
    this.#log.debug({ reason, retryInMs: delay, buffered: this.#queue.length }, 'telemetry stream lost; buffering');
    this.#reconnect = setTimeout(() => this.#open(), delay);
  }
}

function fromDirection(d: DirectionEnum): Direction | undefined {
  return d === DirectionEnum.INBOUND ? 'inbound' : d === DirectionEnum.OUTBOUND ? 'outbound' : undefined;
}
