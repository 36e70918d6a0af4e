// One request at one hop, as telemetry sees it: filled along the request path, read once
// at the end by metrics, access log, spans and tap. Plain fields; every field has its final
// type from the start so the object keeps one shape. A finished record that nothing keeps
// (no tap holds it) is reset and used again for a later request (Telemetry keeps a few):
// about 430 bytes less to allocate per request and hop; under load, allocating that much
// more per hop cost a sidecar pair about 1 % of its throughput (bench/telemetry/README.md).
//
// Filled by the listener on arrival (direction, the request, trace context; inbound: the
// source from the peer's SPIFFE ID), at routing (route, destination, trace headers), per
// attempt (destination version and identity) and at the end from the request's Outcome (status, flags, attempts, upstream, bytes, timings, grpcStatus — the
// last stays '' until the sidecar proxies gRPC, issue 4).
import type { ProxyRequest } from '../http/exchange.ts';

/** performance.timeOrigin is a getter that costs a call; it never changes. */
const TIME_ORIGIN = performance.timeOrigin;

export type Direction = 'inbound' | 'outbound';

/** What a record reads of the request it records. */
export type ArrivedRequest = Pick<ProxyRequest, 'method' | 'url' | 'rawHeaders' | 'body'>;

export class RequestRecord {
  direction: Direction;
  /** performance.now() at the start. */
  startMs: number;
  method = '';
  authority = '';
  path = '';
  requestId = '';

  traceId = '';
  spanId = '';
  parentSpanId = '';
  traceState = '';
  sampled = false;
  traceFormat: 'w3c' | 'b3-single' | 'b3-multi' | 'none' = 'none';
  /** The traceparent this hop sends (made by begin: our span as the next hop's parent); ''
   * when a caller's unsampled W3C context goes on unchanged (no span of ours is recorded). */
  traceparent = '';
  /** The request came with trace headers of its own (to be replaced). */
  traceHeaders = false;
  /** Outbound: a new, unsampled trace that goes to the next sidecar inside the request's
   * x-request-id (trace-context.ts), with no trace headers; its ids are read from that id at
   * the end, and only when something reads them (a tap). */
  traceInRequestId = false;
  /** The headers the request goes on with, read at the end for x-request-id (only what
   * needs it: spans, taps, the access log). */
  forwarded: readonly string[] | undefined = undefined;

  sourceService = 'unknown';
  sourceNamespace = '';
  sourceVersion = '';
  sourceIdentity = '';
  destinationService = 'unknown';
  destinationNamespace = '';
  destinationVersion = '';
  destinationIdentity = '';
  route = '';
  upstreamAddress = '';
  attempts = 0;

  status = 0;
  grpcStatus = '';
  responseFlags = '';
  requestBytes = 0;
  responseBytes = 0;
  /** ms from the start to the response headers; -1 until they are sent. */
  responseStartMs = -1;
  durationMs = 0;
  /** The request while it is in flight: what arrived of its body is read at the end, and its
   * method, path and authority only when something reads them (a span, a tap, the access
   * log), so an unsampled request stores none of them. */
  request: ArrivedRequest | undefined = undefined;

  constructor(direction: Direction, startMs: number) {
    this.direction = direction;
    this.startMs = startMs;
  }

  /** Wall clock at the start, ms since the epoch with sub-ms precision. */
  get startUnixMs(): number {
    return TIME_ORIGIN + this.startMs;
  }

  /** Makes a finished record as a new one is (the defaults above), for another request. */
  reset(direction: Direction, startMs: number): void {
    this.direction = direction;
    this.startMs = startMs;
    this.method = '';
    this.authority = '';
    this.path = '';
    this.requestId = '';
    this.traceId = '';
    this.spanId = '';
    this.parentSpanId = '';
    this.traceState = '';
    this.sampled = false;
    this.traceFormat = 'none';
    this.traceparent = '';
    this.traceHeaders = false;
    this.traceInRequestId = false;
    this.forwarded = undefined;
    this.sourceService = 'unknown';
    this.sourceNamespace = '';
    this.sourceVersion = '';
    this.sourceIdentity = '';
    this.destinationService = 'unknown';
    this.destinationNamespace = '';
    this.destinationVersion = '';
    this.destinationIdentity = '';
    this.route = '';
    this.upstreamAddress = '';
    this.attempts = 0;
    this.status = 0;
    this.grpcStatus = '';
    this.responseFlags = '';
    this.requestBytes = 0;
    this.responseBytes = 0;
    this.responseStartMs = -1;
    this.durationMs = 0;
    this.request = undefined;
  }
}
