// One request at one hop, as telemetry sees it: filled along the request path, read once
// at the end by metrics, access log, spans and tap. Plain fields, one allocation per request;
// every field has its final type from the start so the object keeps one shape.
//
// Filled today: direction, method, authority, path, source (outbound: this workload;
// inbound: the x-weft-source header of a known service), destination, route, upstream,
// status, response flags of the proxy's own responses, bytes, durations, trace ids.
// Plain inputs for later layers: sourceIdentity / destinationIdentity (mTLS), attempts and
// response flags of retries and timeouts (resilience), grpcStatus (gRPC proxying).
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
  /** For chunked uploads: the connection, and the bytes it had read at the start. */
  chunkedSocket: { readonly bytesRead: number } | undefined = undefined;
  socketBytesAtStart = 0;

  constructor(direction: Direction, startMs: number, startUnixMs: number) {
    this.direction = direction;
    this.startMs = startMs;
    this.startUnixMs = startUnixMs;
  }
}
