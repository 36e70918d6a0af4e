// Turns a ProxyError into the response the proxy sends itself: the right status, the
// response flags and attempt count in headers, and a body that names the peer or the
// missing piece. A gRPC call gets gRPC's answer instead of an HTTP error page: a
// trailers-only response, HTTP 200, with grpc-status and a grpc-message naming the cause.
import type { ProxyResponse } from './exchange.ts';
import { encodeGrpcMessage, GRPC_STATUS } from './grpc.ts';
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

/** Records on a request's outcome the status (and grpc-status) sendProxyError answers `res` with. */
export function noteProxyError(outcome: { status: number; grpcStatus: string }, res: ProxyResponse, error: ProxyError): void {
  if (res.grpc) {
    outcome.status = 200;
    outcome.grpcStatus = String(grpcStatusOf(error));
  } else {
    outcome.status = statusOf(error);
  }
}

/** The gRPC status a failure of the sidecar's becomes (the HTTP → gRPC mapping of
 * grpc's http-grpc-status-mapping.md, with timeouts as DEADLINE_EXCEEDED). */
export function grpcStatusOf(error: ProxyError): number {
  switch (error.kind) {
    case 'upstream-timeout':
      return GRPC_STATUS.DEADLINE_EXCEEDED;
    case 'no-route':
      return GRPC_STATUS.UNIMPLEMENTED;
    case 'forbidden':
      return GRPC_STATUS.PERMISSION_DENIED;
    case 'bad-request':
    case 'internal':
      return GRPC_STATUS.INTERNAL;
    default:
      return GRPC_STATUS.UNAVAILABLE;
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
        : `upstream ${error.upstream} did not respond within the ${error.phase === 'grpc-timeout' ? 'grpc-timeout' : `${error.phase} timeout`} of ${error.timeoutMs} ms`;
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
export function sendProxyError(res: ProxyResponse, error: ProxyError, flags: string = RESPONSE_FLAG[error.kind], attempts = 0): number {
  if (res.headersSent) {
    res.reset();
    return 0;
  }
  if (res.grpc) return sendGrpcError(res, error, flags, attempts);
  const body = Buffer.from(`weft: ${describe(error)}\n`);
  const headers = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length), RESPONSE_FLAGS_HEADER, flags];
  if (attempts > 0) headers.push(ATTEMPTS_HEADER, String(attempts));
  res.head(statusOf(error), headers);
  res.finish(body);
  return body.length;
}

/** The trailers-only answer (http/h2-response.ts sends headers alone with END_STREAM). */
function sendGrpcError(res: ProxyResponse, error: ProxyError, flags: string, attempts: number): number {
  const headers = [
    'content-type',
    'application/grpc',
    'grpc-status',
    String(grpcStatusOf(error)),
    'grpc-message',
    encodeGrpcMessage(`weft: ${describe(error)}`),
    RESPONSE_FLAGS_HEADER,
    flags,
  ];
  if (attempts > 0) headers.push(ATTEMPTS_HEADER, String(attempts));
  res.head(200, headers);
  res.finish();
  return 0;
}

function assertNever(value: never): never {
  throw new Error(`unhandled proxy error ${JSON.stringify(value)}`);
}
