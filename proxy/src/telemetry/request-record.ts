// One request at one hop, as telemetry sees it: filled along the request path, read once
// at the end by metrics, access log, spans and tap. Plain fields, one allocation per request;
// every field has its final type from the start so the object keeps one shape.
//
// Filled by the listener on arrival (direction, method, authority, path, trace context;
// inbound: the source from the peer's SPIFFE ID), at routing (route, destination, trace
// headers), per attempt (destination version and identity) and at the end from the
// request's Outcome (status, flags, attempts, upstream, bytes, timings, grpcStatus — the
// last stays '' until the sidecar proxies gRPC, issue 4).
export type Direction = 'inbound' | 'outbound';

export class RequestRecord {
  readonly direction: Direction;
  /** performance.now() at the start. */
  readonly startMs: number;
  /** Wall clock at the start, ms since the epoch with sub-ms precision. */
  readonly startUnixMs: number;
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
  /** The request's body while it is in flight (its size is read at the end). */
  body: { readonly received: number } | undefined = undefined;

  constructor(direction: Direction, startMs: number, startUnixMs: number) {
    this.direction = direction;
    this.startMs = startMs;
    this.startUnixMs = startUnixMs;
  }
}
