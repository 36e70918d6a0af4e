// The sidecar's telemetry as the listeners see it: begin a RequestRecord, fill it at a few
// points, finish it once. Finishing feeds metrics, the access log, spans and taps. Also
// owns trace propagation on the forwarded headers (W3C traceparent, B3 kept in step) and
// the x-weft-source header that tells the next hop who called. Off (--telemetry off):
// begin() returns undefined and the listeners skip every other call.
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { DestinationStream } from 'pino';
import type { ClusterSpec } from '../cluster/cluster-manager.ts';
import type { Endpoint } from '../cluster/load-balancer.ts';
import type { ForwardOutcome } from '../http/forward-handler.ts';
import { type ProxyError, RESPONSE_FLAG } from '../http/proxy-error.ts';
import { statusOf, syntheticBody } from '../http/synthetic-response.ts';
import { AccessLog, type AccessLogOptions } from './access-log.ts';
import type { TelemetryExporter } from './exporter.ts';
import { RequestMetrics } from './request-metrics.ts';
import { type Direction, RequestRecord } from './request-record.ts';
import { Taps } from './tap.ts';
import { TcpMetrics } from './tcp-metrics.ts';
import { formatTraceparent, newSpanId, newTraceId, parseB3Multi, parseB3Single, parseTraceparent } from './trace-context.ts';

export const SOURCE_HEADER = 'x-weft-source';
const MAX_OTHER_SOURCES = 100;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** How a request ended, in the shape of the resilience layer's RequestOutcome
 * (http/request-outcome.ts after the merge), so its onOutcome listener can hand it over as is. */
export interface EndedRequest {
  readonly route: string;
  /** Status sent downstream; 0 when none was. */
  readonly status: number;
  /** Envoy response flags, comma-separated; '' for none. */
  readonly flags: string;
  readonly attempts: number;
  readonly upstreamAddress: string;
  /** The committed attempt's time from dispatch to response headers; -1 when none. */
  readonly upstreamMs: number;
}

export interface TelemetryOptions {
  readonly enabled: boolean;
  readonly self: { readonly service: string; readonly namespace: string; readonly version: string; readonly identity: string };
  /** Share of new traces (no sampling decision from upstream) that are recorded, 0–1. */
  readonly traceSampleRate: number;
  readonly accessLog: AccessLogOptions;
  readonly maxSeries?: number;
}

export class Telemetry {
  /** Configured at startup: without it there is no exporter and no TCP watching. */
  readonly enabled: boolean;
  /** Whether requests are recorded now; the admin port can pause and resume it. */
  recording: boolean;
  readonly requests: RequestMetrics;
  readonly tcp = new TcpMetrics();
  readonly taps: Taps;
  exporter: TelemetryExporter | undefined;
  readonly #self: TelemetryOptions['self'];
  readonly #sourceHeader: string;
  readonly #sampleRate: number;
  readonly #accessLog: AccessLog | undefined;
  /** "service/namespace" of every service this sidecar knows. */
  #known = new Set<string>();
  /** Callers named by x-weft-source that the config does not list (an ingress, say): at most
   * MAX_OTHER_SOURCES, so a forged header cannot grow the label sets without bound. */
  readonly #otherSources = new Set<string>();

  constructor(options: TelemetryOptions, stdout: DestinationStream) {
    this.enabled = options.enabled;
    this.recording = options.enabled;
    this.#self = options.self;
    this.#sourceHeader = `${options.self.service}/${options.self.namespace}/${options.self.version}`;
    this.#sampleRate = options.traceSampleRate;
    this.requests = new RequestMetrics(options.maxSeries === undefined ? {} : { maxSeries: options.maxSeries });
    this.taps = new Taps(() => this.exporter?.tapPending());
    this.#accessLog = options.enabled && options.accessLog.target !== 'off' ? new AccessLog(options.accessLog, stdout) : undefined;
    this.#known.add(`${options.self.service}/${options.self.namespace}`);
  }

  get accessLogSampledOut(): number {
    return this.#accessLog?.sampledOut ?? 0;
  }

  close(): void {
    this.#accessLog?.close();
  }

  /** Pauses or resumes recording (no effect when telemetry was off at startup). */
  setRecording(on: boolean): boolean {
    this.recording = on && this.enabled;
    return this.recording;
  }

  /** Services named in the applied config; called after each config update. */
  setKnownServices(services: Iterable<{ service: string; namespace: string }>): void {
    const known = new Set<string>([`${this.#self.service}/${this.#self.namespace}`]);
    for (const s of services) known.add(`${s.service}/${s.namespace}`);
    this.#known = known;
  }

  /** Starts a record for a request that just arrived; reads the trace context it carries. */
  begin(req: IncomingMessage, direction: Direction): RequestRecord | undefined {
    if (!this.recording) return undefined;
    const now = performance.now();
    const r = new RequestRecord(direction, now, performance.timeOrigin + now);
    r.method = req.method ?? '';
    r.path = req.url ?? '';
    const self = this.#self;
    if (direction === 'outbound') {
      r.sourceService = self.service;
      r.sourceNamespace = self.namespace;
      r.sourceVersion = self.version;
      r.sourceIdentity = self.identity;
    } else {
      r.destinationService = self.service;
      r.destinationNamespace = self.namespace;
      r.destinationVersion = self.version;
      r.destinationIdentity = self.identity;
    }
    const raw = req.rawHeaders;
    let traceparent: string | undefined;
    let b3: string | undefined;
    let b3Trace: string | undefined;
    let b3Span: string | undefined;
    let b3Sampled: string | undefined;
    let chunked = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      switch (name.length) {
        case 2:
          if (name === 'b3' || name === 'B3') b3 = raw[i + 1];
          break;
        case 4:
          if (name.toLowerCase() === 'host') r.authority = raw[i + 1] as string;
          break;
        case 10:
          if (name.toLowerCase() === 'tracestate') r.traceState = raw[i + 1] as string;
          break;
        case 11: {
          const lower = name.toLowerCase();
          if (lower === 'traceparent') traceparent = raw[i + 1];
          else if (lower === 'x-b3-spanid') b3Span = raw[i + 1];
          break;
        }
        case 12:
          if (name.toLowerCase() === 'x-b3-traceid') b3Trace = raw[i + 1];
          else if (name.toLowerCase() === 'x-b3-sampled') b3Sampled = raw[i + 1];
          break;
        case 13:
          if (direction === 'inbound' && name.toLowerCase() === SOURCE_HEADER) this.#readSource(r, raw[i + 1] as string);
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') r.requestBytes = Number(raw[i + 1]) || 0;
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') chunked = true;
          break;
      }
    }
    if (chunked) {
      r.chunkedSocket = req.socket;
      r.socketBytesAtStart = req.socket.bytesRead;
    }
    const incoming =
      (traceparent !== undefined ? parseTraceparent(traceparent) : undefined) ??
      (b3 !== undefined ? parseB3Single(b3) : undefined) ??
      (b3Trace !== undefined ? parseB3Multi(b3Trace, b3Span, b3Sampled) : undefined);
    if (incoming) {
      r.traceId = incoming.traceId;
      r.parentSpanId = incoming.parentSpanId;
      r.sampled = incoming.sampled ?? Math.random() < this.#sampleRate;
      r.traceFormat = incoming.format;
    } else {
      r.traceId = newTraceId();
      r.sampled = this.#sampleRate >= 1 || Math.random() < this.#sampleRate;
    }
    r.spanId = newSpanId();
    return r;
  }

  /** Outbound: the request was routed (and, without a retry layer, an endpoint picked);
   * fixes the headers it goes out with. Call once per request, before the first attempt. */
  routed(r: RequestRecord, headers: string[], route: string, cluster: ClusterSpec, endpoint?: Endpoint): void {
    r.route = route;
    r.destinationService = cluster.service;
    r.destinationNamespace = cluster.namespace;
    if (endpoint) this.attempted(r, endpoint);
    this.#propagate(r, headers);
  }

  /** Outbound: an attempt goes to this endpoint (the last one called is what is recorded). */
  attempted(r: RequestRecord, endpoint: Endpoint): void {
    r.destinationVersion = endpoint.labels['version'] ?? '';
    r.upstreamAddress = endpoint.address;
    r.attempts += 1;
  }

  /** Inbound: the request goes to the app; fixes the headers it goes out with. */
  forwarding(r: RequestRecord, headers: string[], appAddress: string): void {
    r.upstreamAddress = appAddress;
    r.attempts = 1;
    this.#propagate(r, headers);
  }

  /** The proxy answered itself before forwarding (no route, no endpoint, bad request). */
  failed(r: RequestRecord, error: ProxyError, route?: string, cluster?: ClusterSpec): void {
    if (route !== undefined) r.route = route;
    if (cluster) {
      r.destinationService = cluster.service;
      r.destinationNamespace = cluster.namespace;
    }
    r.status = statusOf(error);
    r.responseFlags = RESPONSE_FLAG[error.kind];
    r.responseBytes = Buffer.byteLength(syntheticBody(error));
    this.#finish(r);
  }

  /** The forwarded request ended (the forward handler filled status, bytes and timing). */
  forwarded(r: RequestRecord, outcome: ForwardOutcome): void {
    if (outcome.kind === 'response') {
      r.status = outcome.status;
    } else if (outcome.kind === 'proxy-error') {
      r.responseFlags = RESPONSE_FLAG[outcome.error.kind];
      if (r.responseStartMs < 0) {
        r.status = statusOf(outcome.error);
        r.responseBytes = Buffer.byteLength(syntheticBody(outcome.error));
      }
    } else {
      r.responseFlags = 'DC';
    }
    this.#finish(r);
  }

  /** The request is over, as another layer recorded it (retries, timeouts, the proxy's own
   * answers); the record keeps what only it knows (trace ids, peers, bytes). */
  completed(r: RequestRecord, ended: EndedRequest): void {
    if (ended.route !== '') r.route = ended.route;
    r.status = ended.status;
    r.responseFlags = ended.flags;
    r.attempts = ended.attempts;
    if (ended.upstreamAddress !== '') r.upstreamAddress = ended.upstreamAddress;
    if (ended.upstreamMs >= 0 && r.responseStartMs < 0) r.responseStartMs = ended.upstreamMs;
    this.#finish(r);
  }

  #finish(r: RequestRecord): void {
    const end = performance.now();
    r.durationMs = end - r.startMs;
    if (r.chunkedSocket) {
      // A chunked upload has no declared size: what the connection delivered meanwhile.
      r.requestBytes = r.chunkedSocket.bytesRead - r.socketBytesAtStart;
      r.chunkedSocket = undefined;
    }
    this.requests.observe(r);
    if (r.sampled && this.exporter) this.exporter.addSpan(r);
    if (this.taps.count > 0) this.taps.offer(r, end);
    if (this.#accessLog) this.#accessLog.write(r);
  }

  #readSource(r: RequestRecord, value: string): void {
    const first = value.indexOf('/');
    const second = value.indexOf('/', first + 1);
    if (first <= 0 || second < 0) return;
    const service = value.slice(0, first);
    const namespace = value.slice(first + 1, second);
    const key = `${service}/${namespace}`;
    if (!this.#known.has(key) && !this.#otherSources.has(key)) {
      if (this.#otherSources.size >= MAX_OTHER_SOURCES || !DNS_LABEL.test(service) || !DNS_LABEL.test(namespace)) return;
      this.#otherSources.add(key);
    }
    const version = value.slice(second + 1);
    r.sourceService = service;
    r.sourceNamespace = namespace;
    // Bounded: the version is a label value of a known service's workload.
    r.sourceVersion = version.length <= 63 && /^[A-Za-z0-9._-]*$/.test(version) ? version : 'invalid';
  }

  /** Rewrites the trace headers for the next hop (our span becomes its parent), keeps B3
   * in step when the caller used B3, sets or strips x-weft-source, and reads x-request-id. */
  #propagate(r: RequestRecord, headers: string[]): void {
    let traceparent = -1;
    let b3 = -1;
    let b3Span = -1;
    let b3Parent = -1;
    let source = -1;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      switch (name.length) {
        case 2:
          if (name.toLowerCase() === 'b3') b3 = i + 1;
          break;
        case 11: {
          const lower = name.toLowerCase();
          if (lower === 'traceparent') traceparent = i + 1;
          else if (lower === 'x-b3-spanid') b3Span = i + 1;
          break;
        }
        case 12:
          if (name.toLowerCase() === 'x-request-id') r.requestId = headers[i + 1] as string;
          break;
        case 13:
          if (name.toLowerCase() === SOURCE_HEADER) source = i;
          break;
        case 17:
          if (name.toLowerCase() === 'x-b3-parentspanid') b3Parent = i + 1;
          break;
      }
    }
    const value = formatTraceparent(r.traceId, r.spanId, r.sampled);
    if (traceparent >= 0) headers[traceparent] = value;
    else headers.push('traceparent', value);
    if (b3 >= 0) headers[b3] = `${r.traceId}-${r.spanId}-${r.sampled ? '1' : '0'}${r.parentSpanId ? `-${r.parentSpanId}` : ''}`;
    if (b3Span >= 0) {
      headers[b3Span] = r.spanId;
      if (b3Parent >= 0) headers[b3Parent] = r.parentSpanId;
      else if (r.parentSpanId) headers.push('x-b3-parentspanid', r.parentSpanId);
    }
    if (r.direction === 'outbound') {
      if (source >= 0) headers[source + 1] = this.#sourceHeader;
      else headers.push(SOURCE_HEADER, this.#sourceHeader);
    } else if (source >= 0) {
      headers.splice(source, 2);
    }
  }
}
