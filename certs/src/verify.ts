// Verification of a peer: its certificate chain against a trust bundle, and its SPIFFE ID
// against the one expected. TLS handshakes verify chains in OpenSSL and use only the
// SPIFFE ID half (spiffeIdOfSan); whole-chain verification is for chains that arrive
// outside a handshake: the CA's answer to a sidecar, an operator's CA files, tests.
import type { X509Certificate } from 'node:crypto';
import { parseSpiffeId } from './spiffe-id.ts';
import { oneLine, type TrustBundle } from './trust-bundle.ts';

export type VerifyError =
  | { readonly kind: 'no-spiffe-id'; readonly message: string }
  | { readonly kind: 'wrong-trust-domain'; readonly message: string }
  | { readonly kind: 'identity-mismatch'; readonly message: string }
  | { readonly kind: 'expired'; readonly message: string }
  | { readonly kind: 'untrusted'; readonly message: string };

export type Verified = { ok: true; spiffeId: string } | { ok: false; error: VerifyError };

/**
 * The SPIFFE ID in a subjectAltName as Node prints it ("URI:spiffe://…, DNS:…"): there
 * must be exactly one URI SAN and it must be a SPIFFE ID. Node quotes values that contain
 * separators, as JSON strings; those are decoded before the check.
 */
export function spiffeIdOfSan(subjectAltName: string | undefined): Verified {
  const uris: string[] = [];
  for (const entry of splitSan(subjectAltName ?? '')) {
    if (!entry.startsWith('URI:')) continue;
    const raw = entry.slice(4);
    try {
      uris.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
    } catch {
      uris.push(raw);
    }
  }
  if (uris.length !== 1) {
    return {
      ok: false,
      error: { kind: 'no-spiffe-id', message: `certificate has ${uris.length} URI SANs; an X.509-SVID has exactly one` },
    };
  }
  const id = uris[0] as string;
  if (!id.startsWith('spiffe://')) return { ok: false, error: { kind: 'no-spiffe-id', message: `URI SAN "${id}" is not a SPIFFE ID` } };
  return { ok: true, spiffeId: id };
}

/** Node separates SAN entries with ", " and quotes entries that contain one. */
function splitSan(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (!quoted && c === ',' && text[i + 1] === ' ') {
      out.push(current);
      current = '';
      i++;
      continue;
    }
    current += c;
  }
  if (current) out.push(current);
  return out;
}

/** Checks a SPIFFE ID against what is expected: an exact ID, or any ID of a trust domain. */
export function checkSpiffeId(id: string, expected: { id?: string; trustDomain?: string }): Verified {
  if (expected.id !== undefined && id !== expected.id) {
    return { ok: false, error: { kind: 'identity-mismatch', message: `peer is ${id}, expected ${expected.id}` } };
  }
  if (expected.trustDomain !== undefined && !id.startsWith(`spiffe://${expected.trustDomain}/`)) {
    return { ok: false, error: { kind: 'wrong-trust-domain', message: `peer ${id} is not in trust domain ${expected.trustDomain}` } };
  }
  return { ok: true, spiffeId: id };
}

/**
 * Verifies a chain (leaf first, then intermediates) against a bundle at time `now`:
 * validity of each certificate, each signed by the next, intermediates are CAs, the last
 * one anchored in the bundle, and the leaf's SPIFFE ID is the expected one.
 */
export function verifyChain(
  chain: readonly X509Certificate[],
  bundle: TrustBundle,
  expected: { id?: string; trustDomain?: string; workload?: boolean } = {},
  now = Date.now(),
): Verified {
  const leaf = chain[0];
  if (!leaf) return { ok: false, error: { kind: 'untrusted', message: 'empty certificate chain' } };
  for (const cert of chain) {
    if (Date.parse(cert.validTo) <= now) {
      return { ok: false, error: { kind: 'expired', message: `"${describe(cert)}" expired on ${cert.validTo}` } };
    }
    if (Date.parse(cert.validFrom) > now) {
      return { ok: false, error: { kind: 'expired', message: `"${describe(cert)}" is not valid before ${cert.validFrom}` } };
    }
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate;
    const parent = chain[i + 1] as X509Certificate;
    if (!parent.ca || !child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      return { ok: false, error: { kind: 'untrusted', message: `"${describe(child)}" is not signed by "${describe(parent)}"` } };
    }
  }
  const top = chain.at(-1) as X509Certificate;
  if (!bundle.anchorOf(top)) {
    return { ok: false, error: { kind: 'untrusted', message: `"${describe(top)}" does not chain to a root in the trust bundle` } };
  }
  const san = spiffeIdOfSan(leaf.subjectAltName);
  if (!san.ok) return san;
  if (expected.workload && !parseSpiffeId(san.spiffeId).ok) {
    return { ok: false, error: { kind: 'no-spiffe-id', message: `${san.spiffeId} is not a workload identity` } };
  }
  return checkSpiffeId(san.spiffeId, expected);
}

function describe(cert: X509Certificate): string {
  const subject = oneLine(cert.subject);
  return subject || cert.subjectAltName || `serial ${cert.serialNumber}`;
}
