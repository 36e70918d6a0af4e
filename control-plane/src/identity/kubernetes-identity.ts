// The control plane's --k8s-* flags: checked together (each problem names its flag) and turned
// into the service-account token verifier the CA service uses. Off when none is given.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { FileJwks, type KeySet, RemoteJwks } from './jwks-source.ts';
import { ServiceAccountTokenVerifier } from './service-account-token.ts';

export interface KubernetesIdentityOptions {
  /** The service-account issuer, exactly as the API server's --service-account-issuer. */
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  /** The issuer's JWKS, e.g. https://kubernetes.default.svc/openid/v1/jwks. */
  readonly jwksUrl?: string | undefined;
  /** Or the keys in a file, for clusters without issuer discovery. */
  readonly jwksFile?: string | undefined;
  /** PEM roots for the JWKS server's certificate (in a pod: the service account's ca.crt). */
  readonly jwksCaFile?: string | undefined;
  /** A bearer token sent with each JWKS request, re-read each time (in a pod: its own token). */
  readonly jwksTokenFile?: string | undefined;
}

export const DEFAULT_K8S_AUDIENCE = 'weft';

export type KubernetesIdentitySetup = { ok: true; verifier: ServiceAccountTokenVerifier | undefined } | { ok: false; errors: string[] };

export function setUpKubernetesIdentity(options: KubernetesIdentityOptions, log: Logger): KubernetesIdentitySetup {
  const { issuer, jwksUrl, jwksFile, jwksCaFile, jwksTokenFile } = options;
  const errors: string[] = [];
  if (!issuer && !jwksUrl && !jwksFile) {
    if (jwksCaFile) errors.push('--k8s-jwks-ca needs --k8s-jwks-url');
    if (jwksTokenFile) errors.push('--k8s-jwks-token-file needs --k8s-jwks-url');
    return errors.length > 0 ? { ok: false, errors } : { ok: true, verifier: undefined };
  }
  if (!issuer) errors.push("--k8s-issuer: required with --k8s-jwks-url or --k8s-jwks-file (the API server's --service-account-issuer)");
  if (!jwksUrl && !jwksFile) errors.push('--k8s-issuer needs the keys: --k8s-jwks-url or --k8s-jwks-file');
  if (jwksUrl && jwksFile) errors.push('--k8s-jwks-url and --k8s-jwks-file: give one, not both');
  if (jwksFile && (jwksCaFile || jwksTokenFile)) errors.push('--k8s-jwks-ca and --k8s-jwks-token-file go with --k8s-jwks-url');
  let url: URL | undefined;
  if (jwksUrl) {
    try {
      url = new URL(jwksUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      errors.push(`--k8s-jwks-url: "${jwksUrl}" is not an http(s) URL`);
    }
  }
  let caPem: string | undefined;
  if (jwksCaFile) {
    try {
      caPem = readFileSync(jwksCaFile, 'utf8');
    } catch (error) {
      errors.push(`--k8s-jwks-ca ${jwksCaFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const audience = options.audience ?? DEFAULT_K8S_AUDIENCE;
  if (audience === '') errors.push('--k8s-audience: must not be empty');
  if (errors.length > 0) return { ok: false, errors };

  let keys: KeySet;
  if (url) {
    const remote = new RemoteJwks({ url, caPem, bearerTokenFile: jwksTokenFile, log });
    // In the background: a wrong URL or missing permission shows in the log at startup, and
    // the first pods do not wait for the fetch. A failure here is retried on demand.
    void remote.warm();
    keys = remote;
  } else {
    const opened = FileJwks.open(jwksFile as string, log);
    if (!opened.ok) return { ok: false, errors: [opened.error] };
    keys = opened.keys;
  }
  return { ok: true, verifier: new ServiceAccountTokenVerifier({ issuer: issuer as string, audience, keys }) };
}
