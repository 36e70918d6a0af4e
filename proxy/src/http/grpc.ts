// What the sidecar needs to know of gRPC on the wire (PROTOCOL-HTTP2.md): telling a gRPC
// request apart, the grpc-timeout header (read, capped, written back decremented), status
// codes, and the grpc-message encoding. Pure functions; the request path decides.

/** gRPC status codes the sidecar itself answers with. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** content-type application/grpc, application/grpc+proto, application/grpc-web…: gRPC framing. */
export function isGrpcContentType(value: string | undefined): boolean {
  return value?.startsWith('application/grpc') === true;
}

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * grpc-timeout ("TimeoutValue TimeoutUnit": 1–8 ASCII digits, then H M S m u n) in
 * milliseconds; undefined when malformed (the header is then ignored, as gRPC servers do).
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const digits = value.length - 1;
  if (digits < 1 || digits > 8) return undefined;
  const unit = UNIT_MS[value[digits] as string];
  if (unit === undefined) return undefined;
  let n = 0;
  for (let i = 0; i < digits; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n * unit;
}

/** Milliseconds left as a grpc-timeout value, in the finest unit that fits 8 digits. */
export function formatGrpcTimeout(ms: number): string {
  const left = Math.max(ms, 0);
  if (left < 100_000) return `${Math.floor(left * 1000)}u`;
  if (left < 100_000_000) return `${Math.floor(left)}m`;
  return `${Math.min(Math.floor(left / 1000), 99_999_999)}S`;
}

/** grpc-message is percent-encoded UTF-8: bytes outside printable ASCII, and "%", are escaped. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** grpc-status from raw response headers (a trailers-only response carries it there); '' when absent. */
export function grpcStatusHeader(raw: readonly (Buffer | string)[]): string {
  for (let i = 0; i < raw.length; i += 2) {
    const name = String(raw[i]);
    if (name.length === 11 && name.toLowerCase() === 'grpc-status') return String(raw[i + 1]);
  }
  return '';
}
