// Verifies a projected Kubernetes service-account token (a JWT) and says which workload it
// proves: signature against the cluster's issuer keys (jwks-source.ts), issuer, audience,
// expiry and not-before with a small clock skew, and the kubernetes.io claims (namespace,
// service account, pod). Each refusal names what was wrong. Which SPIFFE ID that makes, and
// whether the CSR may have it, is the CA service's decision.
//
// Without the API server (TokenReview) we cannot tell whether the pod still exists: a token
// is good until it expires, which the kubelet keeps short (the injector asks for one hour).
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { type KeySet, KeysUnavailableError } from './jwks-source.ts';

/** What a verified token proves. */
export interface ServiceAccountClaims {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly serviceAccountUid: string;
  readonly pod: { readonly name: string; readonly uid: string };
  readonly expiresAt: Date;
  readonly keyId: string | undefined;
}

export type TokenVerification =
  | { ok: true; claims: ServiceAccountClaims }
  /** `unavailable`: no keys to check with yet; the caller should come back, not give up. */
  | { ok: false; error: string; unavailable?: true };

export interface ServiceAccountTokenOptions {
  /** The cluster's service-account issuer (`--service-account-issuer` of the API server). */
  readonly issuer: string;
  readonly audience: string;
  readonly keys: KeySet;
  readonly clockSkewMs?: number;
  readonly now?: () => number;
}

/** Tolerated difference between our clock and the API server's. */
export const DEFAULT_CLOCK_SKEW_MS = 30_000;

// Kubernetes signs with RSA or ECDSA keys; an HMAC ("HS256") or "none" token is never valid.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const kubernetesClaims = z.object({
  sub: z.string(),
  'kubernetes.io': z.object({
    namespace: z.string().min(1),
    serviceaccount: z.object({ name: z.string().min(1), uid: z.string().min(1) }),
    // Only tokens bound to a pod: legacy Secret-based tokens have no pod and never expire.
    pod: z.object(
      { name: z.string().min(1), uid: z.string().min(1) },
      {
        error: (issue) => (issue.input === undefined ? 'missing; only tokens bound to a pod (projected tokens) are accepted' : undefined),
      },
    ),
  }),
});

export class ServiceAccountTokenVerifier {
  readonly #options: ServiceAccountTokenOptions;

  constructor(options: ServiceAccountTokenOptions) {
    this.#options = options;
  }

  get issuer(): string {
    return this.#options.issuer;
  }

  get keys(): KeySet {
    return this.#options.keys;
  }

  async verify(token: string): Promise<TokenVerification> {
    const { issuer, audience, keys } = this.#options;
    const skewMs = this.#options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    const now = this.#options.now?.() ?? Date.now();
    const fail = (error: string): TokenVerification => ({ ok: false, error: `service-account token: ${error}` });

    // Read, unverified, only to word the refusals; nothing below trusts these values.
    let header: { alg?: string | undefined; kid?: string | undefined };
    let presented: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token);
      presented = decodeJwt(token);
    } catch (error) {
      return fail(`not a JWT (${(error as Error).message})`);
    }
    const kid = header.kid === undefined ? 'without a key id' : `"${clip(header.kid)}"`;

    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys.resolve, {
        issuer,
        audience,
        algorithms: ALGORITHMS,
        clockTolerance: Math.round(skewMs / 1000),
        currentDate: new Date(now),
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (error instanceof KeysUnavailableError) return { ok: false, unavailable: true, error: `service-account token: ${error.message}` };
      if (error instanceof errors.JOSEAlgNotAllowed) {
        return fail(`algorithm "${clip(String(header.alg))}" is not allowed; Kubernetes signs with RSA or ECDSA keys`);
      }
      if (error instanceof errors.JWKSNoMatchingKey) {
        return fail(`signed with key ${kid}, which is not among the cluster's service-account keys (${keys.source})`);
      }
      if (error instanceof errors.JWSSignatureVerificationFailed) {
        return fail(`signature does not verify with the cluster's key ${kid}`);
      }
      if (error instanceof errors.JWTExpired) {
        return fail(`expired at ${timeOf(presented['exp'])} (clock skew allowed: ${skewMs / 1000} s)`);
      }
      if (error instanceof errors.JWTClaimValidationFailed) {
        switch (error.claim) {
          case 'iss':
            return fail(`issuer ${show(presented['iss'])} is not this cluster's (${JSON.stringify(issuer)}, --k8s-issuer)`);
          case 'aud':
            return fail(`audience ${show(presented['aud'])} does not include "${audience}"`);
          case 'nbf':
            return fail(`not valid before ${timeOf(presented['nbf'])} (clock skew allowed: ${skewMs / 1000} s)`);
          case 'exp':
            return fail(error.reason === 'missing' ? 'has no expiry ("exp"); only projected tokens are accepted' : 'bad "exp" claim');
          default:
            return fail(`claim "${error.claim}": ${error.message}`);
        }
      }
      if (error instanceof errors.JOSEError) return fail(error.message);
      throw error;
    }

    const parsed = kubernetesClaims.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(`claim ${issue?.path.join('.') || '(payload)'}: ${issue?.message}`);
    }
    const { sub, 'kubernetes.io': k8s } = parsed.data;
    const namespace = k8s.namespace;
    const serviceAccount = k8s.serviceaccount.name;
    if (!DNS_LABEL.test(namespace)) return fail(`namespace "${clip(namespace)}" is not a DNS label`);
    if (!DNS_LABEL.test(serviceAccount)) {
      return fail(`service account "${clip(serviceAccount)}" is not a DNS label; a Weft service (and so its service account) must be one`);
    }
    const expected = `system:serviceaccount:${namespace}:${serviceAccount}`;
    if (sub !== expected) return fail(`subject "${clip(sub)}" does not match its kubernetes.io claims (${expected})`);
    return {
      ok: true,
      claims: {
        namespace,
        serviceAccount,
        serviceAccountUid: k8s.serviceaccount.uid,
        pod: { name: k8s.pod.name, uid: k8s.pod.uid },
        expiresAt: new Date((payload['exp'] as number) * 1000),
        keyId: header.kid,
      },
    };
  }
}

/** Untrusted text in an error message: bounded, so a token cannot flood the log. */
function clip(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** An untrusted claim as JSON (quoted string, array…), bounded. */
function show(value: unknown): string {
  return value === undefined ? '(none)' : clip(JSON.stringify(value));
}

function timeOf(seconds: unknown): string {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : JSON.stringify(seconds);
}
