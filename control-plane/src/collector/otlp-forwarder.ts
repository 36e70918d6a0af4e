// Forwards the spans the collector receives to an OpenTelemetry backend over OTLP/HTTP,
// with the OpenTelemetry exporter doing the encoding. Each span keeps its sidecar as the
// resource (service.name, service.namespace, service.version, service.instance.id).
// Bounded: at most `maxQueued` spans wait; past that the oldest are dropped and counted.
import { type Attributes, type HrTime, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { RequestView } from './request-view.ts';

export interface OtlpOptions {
  /** OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly flushMs?: number;
  readonly maxBatch?: number;
  readonly maxQueued?: number;
}

const SCOPE = { name: 'weft-proxy', version: '0.1.0' };

export class OtlpForwarder {
  readonly #exporter: OTLPTraceExporter;
  readonly #log: Logger;
  readonly #maxBatch: number;
  readonly #maxQueued: number;
  readonly #resources = new Map<string, Resource>();
  readonly #timer: NodeJS.Timeout;
  #queue: ReadableSpan[] = [];
  #inFlight = false;
  exported = 0;
  dropped = 0;
  failed = 0;

  constructor(options: OtlpOptions) {
    this.#exporter = new OTLPTraceExporter({ url: options.url, headers: { ...options.headers } });
    this.#log = options.log.child({ component: 'otlp', url: options.url });
    this.#maxBatch = options.maxBatch ?? 512;
    this.#maxQueued = options.maxQueued ?? 20_000;
    this.#timer = setInterval(() => this.#flush(), options.flushMs ?? 1000);
    this.#timer.unref();
  }

  add(span: RequestView): void {
    this.#queue.push(this.#toReadable(span));
    if (this.#queue.length > this.#maxQueued) {
      const excess = this.#queue.length - this.#maxQueued;
      this.#queue.splice(0, excess);
      this.dropped += excess;
    }
    if (this.#queue.length >= this.#maxBatch) this.#flush();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#flush();
    await this.#exporter.shutdown().catch(() => {});
  }

  #flush(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#inFlight = true;
    this.#exporter.export(batch, (result) => {
      this.#inFlight = false;
      if (result.code === ExportResultCode.SUCCESS) this.exported += batch.length;
      else {
        this.failed += batch.length;
        this.#log.warn({ err: result.error, spans: batch.length }, 'OTLP export failed; spans dropped');
      }
      if (this.#queue.length >= this.#maxBatch) this.#flush();
    });
  }

  #toReadable(s: RequestView): ReadableSpan {
    const peer = s.direction === 'inbound' ? s.destination : s.source;
    const resourceKey = `${s.nodeId}/${peer.service}/${peer.namespace}/${peer.version}`;
    let resource = this.#resources.get(resourceKey);
    if (!resource && this.#resources.size >= 10_000) this.#resources.clear();
    if (!resource) {
      resource = resourceFromAttributes({
        'service.name': peer.service,
        'service.namespace': peer.namespace,
        'service.version': peer.version,
        'service.instance.id': s.nodeId,
      });
      this.#resources.set(resourceKey, resource);
    }
    const start = hrTime(s.startUnixMs);
    const end = hrTime(s.startUnixMs + s.durationMs);
    const error = s.statusCode === 0 || s.statusCode >= 500;
    const attributes: Attributes = {
      'http.request.method': s.method,
      'url.path': s.path,
      'server.address': s.authority,
      'http.response.status_code': s.statusCode,
      'weft.direction': s.direction,
      'weft.response_flags': s.responseFlags,
      'weft.upstream_address': s.upstreamAddress,
      'weft.attempts': s.attempts,
      'weft.source.service': s.source.service,
      'weft.source.version': s.source.version,
      'weft.destination.service': s.destination.service,
      'weft.destination.version': s.destination.version,
      'http.request.body.size': s.requestBytes,
      'http.response.body.size': s.responseBytes,
    };
    if (s.route) attributes['http.route'] = s.route;
    if (s.grpcStatus) attributes['rpc.grpc.status_code'] = Number(s.grpcStatus);
    if (s.source.identity) attributes['weft.source.identity'] = s.source.identity;
    if (s.destination.identity) attributes['weft.destination.identity'] = s.destination.identity;
    if (s.requestId) attributes['weft.request_id'] = s.requestId;
    const traceFlags = 1;
    return {
      name: s.route ? `${s.method} ${s.route}` : s.method,
      kind: s.direction === 'inbound' ? SpanKind.SERVER : SpanKind.CLIENT,
      spanContext: () => ({ traceId: s.traceId, spanId: s.spanId, traceFlags }),
      ...(s.parentSpanId ? { parentSpanContext: { traceId: s.traceId, spanId: s.parentSpanId, traceFlags, isRemote: true } } : {}),
      startTime: start,
      endTime: end,
      duration: hrTime(s.durationMs),
      status: error ? { code: SpanStatusCode.ERROR, message: s.responseFlags || String(s.statusCode) } : { code: SpanStatusCode.UNSET },
      attributes,
      links: [],
      events: [],
      ended: true,
      resource,
      instrumentationScope: SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
