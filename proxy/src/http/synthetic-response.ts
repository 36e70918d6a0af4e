// Turns a ProxyError into the response the proxy sends itself: the right status, the
// response flags and attempt count in headers, and a body that names the peer or the
// missing piece.
import type { ServerResponse } from 'node:http';
import { type ProxyError, RESPONSE_FLAG } from './proxy-error.ts';

export const RESPONSE_FLAGS_HEADER = 'x-weft-response-flags';
export const ATTEMPTS_HEADER = 'x-weft-attempts';

export function statusOf(error: ProxyError): number {
  switch (error.kind) {
    case 'no-route':
      return 404;
    case 'no-cluster':
    case 'no-healthy-upstream':
    case 'overflow':
    case 'upstream-connect-failure':
      return 503;
    case 'upstream-reset':
      return 502;
    case 'upstream-timeout':
      return 504;
    case 'bad-request':
      return 400;
    case 'forbidden':
      return 403;
    case 'internal':
      return 500;
    default:
      return assertNever(error);
  }
}

export function describe(error: ProxyError): string {
  switch (error.kind) {
    case 'no-route':
      return `no route for host "${error.host}" and path "${error.path}"`;
    case 'no-cluster':
      return `route points at cluster "${error.cluster}", which this sidecar does not have`;
    case 'no-healthy-upstream':
      return `no endpoint available for "${error.cluster}"`;
    case 'overflow':
      return `"${error.cluster}" is at its ${error.limit} limit (circuit breaker)`;
    case 'upstream-connect-failure':
      return `cannot connect to upstream ${error.upstream} (${error.code})`;
    case 'upstream-reset':
      return `upstream ${error.upstream} reset the connection before responding (${error.code})`;
    case 'upstream-timeout':
      return error.phase === 'upstream'
        ? `upstream ${error.upstream} timed out`
        : `upstream ${error.upstream} did not respond within the ${error.phase} timeout of ${error.timeoutMs} ms`;
    case 'bad-request':
      return error.message;
    case 'forbidden': {
      const who = error.peer ?? 'a plaintext peer (no identity)';
      const kind = error.policies.length === 1 ? 'AuthorizationPolicy' : 'AuthorizationPolicies';
      return `denied by ${kind} ${error.policies.join(', ')}: ${who} may not ${error.method} ${error.path}`;
    }
    case 'internal':
      return `internal proxy error: ${error.message}`;
    default:
      return assertNever(error);
  }
}

/**
 * Writes the synthetic response, or destroys the stream if the response already began.
 * `flags` defaults to the error's own flag; `attempts` > 0 adds the attempts header.
 * Returns the body bytes written (0 when the stream was destroyed instead).
 */
export function sendProxyError(res: ServerResponse, error: ProxyError, flags: string = RESPONSE_FLAG[error.kind], attempts = 0): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const body = `weft: ${describe(error)}\n`;
  const length = Buffer.byteLength(body);
  const headers = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(length), RESPONSE_FLAGS_HEADER, flags];
  if (attempts > 0) headers.push(ATTEMPTS_HEADER, String(attempts));
  res.writeHead(statusOf(error), headers);
  res.end(body);
  return length;
}

function assertNever(value: never): never {
  throw new Error(`unhandled proxy error ${JSON.stringify(value)}`);
}
