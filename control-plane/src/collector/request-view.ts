// Proto RequestRecord (a span or a tap event) → the JSON shape the API, the CLI and the
// dashboard show. Generated types stop here.
import { Direction as DirectionEnum, type RequestRecord } from '@weft/proto';

export interface Peer {
  readonly service: string;
  readonly namespace: string;
  readonly version: string;
  readonly identity: string;
}

export interface RequestView {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly sampled: boolean;
  readonly nodeId: string;
  readonly direction: 'inbound' | 'outbound';
  /** "GET /api" style, with the route when there is one. */
  readonly name: string;
  readonly startUnixMs: number;
  readonly durationMs: number;
  readonly responseStartMs: number | null;
  readonly method: string;
  readonly authority: string;
  readonly path: string;
  readonly statusCode: number;
  readonly grpcStatus: string;
  readonly responseFlags: string;
  readonly upstreamAddress: string;
  readonly attempts: number;
  readonly route: string;
  readonly source: Peer;
  readonly destination: Peer;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly requestId: string;
}

export function toRequestView(r: RequestRecord): RequestView {
  const direction = r.direction === DirectionEnum.INBOUND ? 'inbound' : 'outbound';
  return {
    traceId: hex(r.traceId),
    spanId: hex(r.spanId),
    parentSpanId: hex(r.parentSpanId),
    traceState: r.traceState,
    sampled: r.sampled,
    nodeId: r.nodeId,
    direction,
    name: `${r.method} ${r.route || r.path}`,
    startUnixMs: Number(r.startUnixNanos / 1000n) / 1000,
    durationMs: Number(r.durationNanos) / 1e6,
    responseStartMs: r.responseStartNanos === 0n ? null : Number(r.responseStartNanos) / 1e6,
    method: r.method,
    authority: r.authority,
    path: r.path,
    statusCode: r.statusCode,
    grpcStatus: r.grpcStatus,
    responseFlags: r.responseFlags,
    upstreamAddress: r.upstreamAddress,
    attempts: r.attempts,
    route: r.route,
    source: { service: r.sourceService, namespace: r.sourceNamespace, version: r.sourceVersion, identity: r.sourceIdentity },
    destination: {
      service: r.destinationService,
      namespace: r.destinationNamespace,
      version: r.destinationVersion,
      identity: r.destinationIdentity,
    },
    requestBytes: Number(r.requestBytes),
    responseBytes: Number(r.responseBytes),
    requestId: r.requestId,
  };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
