// Header rewriting on the hot path, on Node's flat raw-header arrays ([name, value, ...])
// so nothing is parsed twice: hop-by-hop headers are dropped (RFC 9110 §7.6.1, plus any
// named in Connection) and the forwarding headers are set.
import { randomUUID } from 'node:crypto';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Not hop-by-hop, but the listener answers `Expect: 100-continue` itself (as Envoy does):
  // the next hop gets the body without waiting.
  'expect',
]);

export interface ForwardingFacts {
  /** Address of the peer that sent us the request. */
  readonly clientAddress: string | undefined;
  /** Replaces the Host header (absolute-form requests carry it in the URI). */
  readonly host: string | undefined;
  /** Inbound only: the peer's verified SPIFFE ID ('' for a plaintext peer). Any
   * x-weft-peer-identity the request carries is dropped, so it cannot be forged, and so is
   * x-weft-source (sidecar to sidecar only: telemetry has read it). */
  readonly peerIdentity?: string;
}

export const PEER_IDENTITY_HEADER = 'x-weft-peer-identity';
/** The calling workload's service/namespace/version, from its sidecar to the next one. */
export const SOURCE_HEADER = 'x-weft-source';

/**
 * Request headers for the next hop: hop-by-hop removed, x-forwarded-for appended,
 * x-forwarded-proto and x-request-id set when absent, Host replaced when asked.
 */
export function forwardRequestHeaders(raw: readonly string[], facts: ForwardingFacts): string[] {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let hasProto = false;
  let hasRequestId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.length <= 20 ? name.toLowerCase() : name; // longer names are never special
    if (HOP_BY_HOP.has(lower) || dropped?.has(lower)) continue;
    if (lower === 'host' && facts.host !== undefined) continue;
    if ((lower === PEER_IDENTITY_HEADER || lower === SOURCE_HEADER) && facts.peerIdentity !== undefined) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (lower === 'x-forwarded-proto') hasProto = true;
    else if (lower === 'x-request-id') hasRequestId = true;
    out.push(name, value);
  }
  if (facts.host !== undefined) out.push('host', facts.host);
  if (facts.peerIdentity) out.push(PEER_IDENTITY_HEADER, facts.peerIdentity);
  if (facts.clientAddress !== undefined) {
    out.push('x-forwarded-for', forwardedFor === undefined ? facts.clientAddress : `${forwardedFor}, ${facts.clientAddress}`);
  } else if (forwardedFor !== undefined) {
    out.push('x-forwarded-for', forwardedFor);
  }
  if (!hasProto) out.push('x-forwarded-proto', 'http');
  if (!hasRequestId) out.push('x-request-id', randomUUID());
  return out;
}

/** Response headers for the downstream: hop-by-hop removed. */
export function forwardResponseHeaders(raw: readonly string[]): string[] {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.length <= 20 ? name.toLowerCase() : name;
    if (HOP_BY_HOP.has(lower) || dropped?.has(lower)) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** Header value by lower-case name from a flat raw array; the first occurrence. */
export function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let set: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') set = tokens(raw[i + 1] as string, set);
  }
  return set;
}

function tokens(value: string, into: Set<string> | undefined): Set<string> | undefined {
  let set = into;
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    set ??= new Set();
    set.add(t);
  }
  return set;
}

/**
 * Request headers for a destination outside the mesh (an intercepted request no mesh host
 * matched): only what re-framing the request requires changes — hop-by-hop headers go,
 * Host is set for an absolute-form request. Nothing is added: such traffic passes as sent.
 */
export function passThroughRequestHeaders(raw: readonly string[], host: string | undefined): string[] {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.length <= 20 ? name.toLowerCase() : name;
    if (HOP_BY_HOP.has(lower) || dropped?.has(lower)) continue;
    if (lower === 'host' && host !== undefined) continue;
    out.push(name, raw[i + 1] as string);
  }
  if (host !== undefined) out.push('host', host);
  return out;
}
