// Header rewriting on the hot path, on Node's flat raw-header arrays ([name, value, ...])
// so nothing is parsed twice: hop-by-hop headers are dropped (RFC 9110 §7.6.1, plus any
// named in Connection) and the forwarding headers are set.
import { newRequestId } from './request-id.ts';

// Hop-by-hop fields (RFC 9110 §7.6.1: Connection, Keep-Alive, Proxy-Connection,
// Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding, Upgrade; plus any
// the Connection header names) are dropped; so is Expect: the listener answers
// `Expect: 100-continue` itself (as Envoy does), and the next hop gets the body without
// waiting. kindOf() below is that list, matched by length first.

export interface ForwardingFacts {
  /** Address of the peer that sent us the request. */
  readonly clientAddress: string | undefined;
  /** Replaces the Host header (absolute-form requests carry it in the URI). */
  readonly host: string | undefined;
  /** Inbound only: the peer's verified SPIFFE ID ('' for a plaintext peer). Any
   * x-weft-peer-identity the request carries is dropped, so it cannot be forged. */
  readonly peerIdentity?: string;
  /** The x-request-id to set when the request carries none (telemetry's, when the id carries
   * a new trace); by default a random UUID. */
  readonly requestId?: string | undefined;
}

export const PEER_IDENTITY_HEADER = 'x-weft-peer-identity';
/** The calling workload's service/namespace/version, from its sidecar to the next one, once
 * per connection (the upstream pools' connectionHeaders). Never forwarded: inbound,
 * telemetry has read it; outbound, an app does not speak for its sidecar. */
export const SOURCE_HEADER = 'x-weft-source';

/** Whether `name` is `lower` in any case: header names are ASCII tokens, so OR-ing 0x20
 * folds the letters and leaves '-' alone. No string is made (this runs per header). Most
 * names asked about are not the one (a scan asks each header), and most of those differ in
 * length or in the first character, which are compared first: comparing two different
 * strings of one length with === calls V8's string comparison, out of line. Names sent in
 * lower case (HTTP/2, and sidecar to sidecar) then match at one comparison, which V8 makes
 * over whole words rather than character by character. */
export function isNamed(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n || (name.charCodeAt(0) | 0x20) !== lower.charCodeAt(0)) return false;
  if (name === lower) return true;
  for (let i = 1; i < n; i++) if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

// What a forwarded header is, by name, decided without lower-casing it.
const KEEP = 0;
const DROP = 1;
const HOST = 2;
const PEER = 3;
const FORWARDED_FOR = 4;
const FORWARDED_PROTO = 5;
const REQUEST_ID = 6;
const SOURCE = 7;

function kindOf(name: string): number {
  switch (name.length) {
    case 2:
      return isNamed(name, 'te') ? DROP : KEEP;
    case 4:
      return isNamed(name, 'host') ? HOST : KEEP;
    case 6:
      return isNamed(name, 'expect') ? DROP : KEEP;
    case 7:
      return isNamed(name, 'upgrade') || isNamed(name, 'trailer') ? DROP : KEEP;
    case 10:
      return isNamed(name, 'connection') || isNamed(name, 'keep-alive') ? DROP : KEEP;
    case 12:
      return isNamed(name, 'x-request-id') ? REQUEST_ID : KEEP;
    case 13:
      return isNamed(name, SOURCE_HEADER) ? SOURCE : KEEP;
    case 15:
      return isNamed(name, 'x-forwarded-for') ? FORWARDED_FOR : KEEP;
    case 16:
      return isNamed(name, 'proxy-connection') ? DROP : KEEP;
    case 17:
      return isNamed(name, 'transfer-encoding') ? DROP : isNamed(name, 'x-forwarded-proto') ? FORWARDED_PROTO : KEEP;
    case 18:
      return isNamed(name, 'proxy-authenticate') ? DROP : KEEP;
    case 19:
      return isNamed(name, 'proxy-authorization') ? DROP : KEEP;
    case 20:
      return isNamed(name, PEER_IDENTITY_HEADER) ? PEER : KEEP;
    default:
      return KEEP;
  }
}

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
  const inbound = facts.peerIdentity !== undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (kindOf(name)) {
      case DROP:
        continue;
      case HOST:
        if (facts.host !== undefined) continue;
        break;
      case PEER:
        if (inbound) continue;
        break;
      case SOURCE:
        continue;
      case FORWARDED_FOR:
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case FORWARDED_PROTO:
        hasProto = true;
        break;
      case REQUEST_ID:
        hasRequestId = true;
        break;
    }
    if (dropped?.has(name.toLowerCase())) continue;
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
  if (!hasRequestId) out.push('x-request-id', facts.requestId ?? newRequestId());
  return out;
}

/** Response headers for the downstream: hop-by-hop removed. */
export function forwardResponseHeaders(raw: readonly string[]): string[] {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (kindOf(name) === DROP) continue;
    if (dropped?.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** Header value by lower-case name from a flat raw array; the first occurrence. */
export function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (isNamed(raw[i] as string, lowerName)) return raw[i + 1];
  }
  return undefined;
}

/** Names the Connection header lists (besides close and keep-alive): hop-by-hop too. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let set: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isNamed(name, 'connection')) set = tokens(raw[i + 1] as string, set);
  }
  return set;
}

function tokens(value: string, into: Set<string> | undefined): Set<string> | undefined {
  // What nearly every response says, and names no header: nothing to split.
  if (isNamed(value, 'keep-alive') || isNamed(value, 'close')) return into;
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
    const kind = kindOf(name);
    if (kind === DROP || (kind === HOST && host !== undefined)) continue;
    if (dropped?.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1] as string);
  }
  if (host !== undefined) out.push('host', host);
  return out;
}
