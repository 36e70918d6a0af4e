// Reads the projected Kubernetes service-account token the kubelet keeps in a file (and
// rewrites before it expires), and what it claims to be. The claims are read unverified:
// only to check our flags against them before asking; the control plane verifies the token.
import { readFileSync } from 'node:fs';
import { decodeJwt } from 'jose';

export interface ServiceAccountTokenFile {
  readonly token: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Unix ms, when the token says it expires. */
  readonly expiresAt: number | undefined;
}

export type TokenFileRead = { ok: true; value: ServiceAccountTokenFile } | { ok: false; error: string };

export function readServiceAccountTokenFile(path: string): TokenFileRead {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (error) {
    return { ok: false, error: `--token-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  if (token === '') return { ok: false, error: `--token-file ${path}: empty` };
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch (error) {
    return { ok: false, error: `--token-file ${path}: not a JWT (${(error as Error).message})` };
  }
  const k8s = claims['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
  const namespace = k8s?.namespace;
  const serviceAccount = k8s?.serviceaccount?.name;
  if (typeof namespace !== 'string' || typeof serviceAccount !== 'string') {
    return {
      ok: false,
      error: `--token-file ${path}: not a Kubernetes service-account token (no kubernetes.io namespace and service account)`,
    };
  }
  const exp = claims['exp'];
  return { ok: true, value: { token, namespace, serviceAccount, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined } };
}
