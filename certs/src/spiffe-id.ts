// SPIFFE IDs for workload identities: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
// Parsing follows the SPIFFE ID spec: lower-case trust domain, no query, fragment, port
// or user info, and path segments that are neither empty nor dot segments.

declare const spiffeIdBrand: unique symbol;
/** A SPIFFE ID string that has passed parseSpiffeId or formatSpiffeId. */
export type SpiffeId = string & { readonly [spiffeIdBrand]: true };

export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export type SpiffeParse = { ok: true; id: SpiffeId; identity: WorkloadIdentity } | { ok: false; error: string };

export function parseSpiffeId(text: string): SpiffeParse {
  if (!text.startsWith('spiffe://')) return { ok: false, error: `"${text}" does not start with spiffe://` };
  if (/[?#]/.test(text)) return { ok: false, error: 'a SPIFFE ID has no query or fragment' };
  const rest = text.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain)) {
    return { ok: false, error: `trust domain "${trustDomain}" must be lower-case letters, digits, ".", "-" or "_"` };
  }
  const segments = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || !SEGMENT.test(segment)) {
      return { ok: false, error: `path segment "${segment}" is not allowed in a SPIFFE ID` };
    }
  }
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') {
    return { ok: false, error: `"${text}" is not a workload identity (spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)` };
  }
  return {
    ok: true,
    id: text as SpiffeId,
    identity: { trustDomain, namespace: segments[1] as string, serviceAccount: segments[3] as string },
  };
}

export function formatSpiffeId(identity: WorkloadIdentity): SpiffeId {
  const text = `spiffe://${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
  const parsed = parseSpiffeId(text);
  if (!parsed.ok) throw new Error(`invalid workload identity: ${parsed.error}`);
  return parsed.id;
}

/** The control plane's own identity. Not a workload path (/ns/…/sa/…), so no join token
 * or CSR can ever name it. */
export function controlPlaneSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/weft/control-plane`;
}

/** The trust domain of a well-formed SPIFFE ID, or undefined. */
export function trustDomainOf(id: string): string | undefined {
  const match = /^spiffe:\/\/([a-z0-9._-]+)(\/|$)/.exec(id);
  return match?.[1];
}
