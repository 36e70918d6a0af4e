// Turns a ProxyError into the response the proxy sends itself: the right status, a flag
// header and a body that names the peer or the missing piece.
import type { ServerResponse } from 'node:http';
import { type ProxyError, RESPONSE_FLAG } from './proxy-error.ts';

export const RESPONSE_FLAGS_HEADER = 'x-weft-response-flags';

export function statusOf(error: ProxyError): number {
  switch (error.kind) {
    case 'no-route':
      return 404;
    case 'no-cluster':
    case 'no-healthy-upstream':
    case 'upstream-connect-failure':
      return 503;
    case 'upstream-reset':
      return 502;
    case 'upstream-timeout':
      return 504;
    case 'bad-request':
      return 400;
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
    case 'upstream-connect-failure':
      return `cannot connect to upstream ${error.upstream} (${error.code})`;
    case 'upstream-reset':
      return `upstream ${error.upstream} reset the connection before responding (${error.code})`;
    case 'upstream-timeout':
      return `upstream ${error.upstream} did not respond within ${error.timeoutMs} ms`;
    case 'bad-request':
      return error.message;
    case 'internal':
      return `internal proxy error: ${error.message}`;
    default:
      return assertNever(error);
  }
}

/** Writes the synthetic response, or destroys the stream if the response already began. */
export function sendProxyError(res: ServerResponse, error: ProxyError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = syntheticBody(error);
  res.writeHead(statusOf(error), [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    RESPONSE_FLAGS_HEADER,
    RESPONSE_FLAG[error.kind],
  ]);
  res.end(body);
}

export function syntheticBody(error: ProxyError): string {
  return `weft: ${describe(error)}\n`;
}

function assertNever(value: never): never {
  throw new Error(`unhandled proxy error ${JSON.stringify(value)}`);
}
