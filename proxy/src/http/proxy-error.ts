// Failures the proxy itself answers for, as values. http/synthetic-response.ts is the only
// place they become HTTP. Response flags follow Envoy's vocabulary so operators can
// grep for the ones they know.
export type ProxyError =
  | { readonly kind: 'no-route'; readonly host: string; readonly path: string }
  | { readonly kind: 'no-cluster'; readonly cluster: string }
  | { readonly kind: 'no-healthy-upstream'; readonly cluster: string }
  | { readonly kind: 'overflow'; readonly cluster: string; readonly limit: string }
  | { readonly kind: 'upstream-connect-failure'; readonly upstream: string; readonly code: string }
  | { readonly kind: 'upstream-reset'; readonly upstream: string; readonly code: string }
  | {
      readonly kind: 'upstream-timeout';
      readonly upstream: string;
      readonly timeoutMs: number;
      readonly phase: 'route' | 'per-try' | 'upstream' | 'grpc-timeout';
    }
  | { readonly kind: 'bad-request'; readonly message: string }
  | {
      readonly kind: 'forbidden';
      readonly policies: readonly string[];
      readonly peer: string | undefined;
      readonly method: string;
      readonly path: string;
    }
  | { readonly kind: 'internal'; readonly message: string };

/** Envoy response flags, by failure. */
export const RESPONSE_FLAG: Readonly<Record<ProxyError['kind'], string>> = {
  'no-route': 'NR',
  'no-cluster': 'NC',
  'no-healthy-upstream': 'UH',
  overflow: 'UO',
  'upstream-connect-failure': 'UF',
  'upstream-reset': 'UR',
  'upstream-timeout': 'UT',
  'bad-request': 'DPE',
  forbidden: 'RBAC',
  internal: 'IE',
};

/** Flags that describe how a request ended rather than a failure of its own. */
export const RETRY_LIMIT_EXCEEDED = 'URX';
export const DOWNSTREAM_DISCONNECT = 'DC';

const CONNECT_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  // mTLS to the upstream failed: no certificate yet, or its chain does not verify.
  'ERR_WEFT_NO_CERTIFICATE',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  // HTTP/2: the peer refused the stream or announced it would not process it (GOAWAY):
  // like a refused connection, the request was never acted on.
  'ERR_WEFT_H2_REFUSED_STREAM',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
]);

/** An upstream failure (connect, socket, TLS, HTTP/2 stream) → what happened, by its code. */
export function classifyUpstreamError(error: unknown, upstream: string): ProxyError {
  const code = errorCode(error);
  if (CONNECT_FAILURE_CODES.has(code)) return { kind: 'upstream-connect-failure', upstream, code };
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return { kind: 'upstream-timeout', upstream, timeoutMs: 0, phase: 'upstream' };
  return { kind: 'upstream-reset', upstream, code };
}

export function errorCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return 'UNKNOWN';
}
