// Join tokens: how a new sidecar proves, once, which workload it is. The token text carries
// the identity it is bound to (so a sidecar can check its flags against it before asking)
// and a random secret. The control plane keeps only the id, the identity, the expiry and
// a SHA-256 of the secret; it trusts the identity it stored, never the one in the text.
//
// Format: weft1.<base64url JSON {td, ns, sa, id}>.<base64url 32-byte secret>
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { WorkloadIdentity } from './spiffe-id.ts';

const PREFIX = 'weft1';

export interface JoinToken {
  readonly id: string;
  readonly identity: WorkloadIdentity;
  readonly secret: string;
}

export type TokenParse = { ok: true; token: JoinToken } | { ok: false; error: string };

/** A new token for `identity`: the text to hand out and the hash to store. */
export function newJoinToken(identity: WorkloadIdentity): { text: string; id: string; secretSha256: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const claims = Buffer.from(
    JSON.stringify({ td: identity.trustDomain, ns: identity.namespace, sa: identity.serviceAccount, id }),
  ).toString('base64url');
  return { text: `${PREFIX}.${claims}.${secret}`, id, secretSha256: hashSecret(secret) };
}

export function parseJoinToken(text: string): TokenParse {
  const parts = text.trim().split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return { ok: false, error: 'not a Weft join token (expected weft1.<claims>.<secret>)' };
  let claims: { td?: unknown; ns?: unknown; sa?: unknown; id?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return { ok: false, error: 'join token claims are not readable' };
  }
  const { td, ns, sa, id } = claims;
  if (typeof td !== 'string' || typeof ns !== 'string' || typeof sa !== 'string' || typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id)) {
    return { ok: false, error: 'join token claims are incomplete' };
  }
  const secret = parts[2] as string;
  if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return { ok: false, error: 'join token secret is malformed' };
  return { ok: true, token: { id, identity: { trustDomain: td, namespace: ns, serviceAccount: sa }, secret } };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant time in the secret: both sides are SHA-256 digests of equal length. */
export function secretMatches(secret: string, storedSha256: string): boolean {
  const presented = createHash('sha256').update(secret).digest();
  const stored = Buffer.from(storedSha256, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
