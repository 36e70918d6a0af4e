// Where a request is going: Host header and origin-form path, or an absolute-form URI
// (the app uses the sidecar as HTTP_PROXY). RFC 9112 §3.2.2: with absolute-form the URI's
// authority replaces Host.
// HTTP/2 requests (node's compatibility request) carry the authority as :authority.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { rawHeader } from './headers.ts';

export interface RequestTarget {
  /** Authority as sent (may include a port). */
  readonly host: string;
  /** Path and query, origin-form, for the upstream request line. */
  readonly path: string;
  /** Path without the query, for route matching. */
  readonly pathname: string;
  /** True when the host came from an absolute-form URI and must replace Host. */
  readonly absolute: boolean;
}

export function requestTarget(req: IncomingMessage): RequestTarget | string {
  const url = req.url ?? '/';
  if (url.charCodeAt(0) === 47 /* / */) {
    // From the raw pairs: req.headers would build an object of every header for one value.
    // HTTP/2 (node's compatibility request) names the authority :authority.
    const host =
      rawHeader(req.rawHeaders, 'host') ?? (req.httpVersionMajor === 2 ? (req.headers[':authority'] as string | undefined) : undefined);
    if (!host) return 'request has no Host header';
    return { host, path: url, pathname: pathnameOf(url), absolute: false };
  }
  const scheme = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1;
  if (scheme < 0) return `unsupported request target "${url.slice(0, 100)}"`;
  const slash = url.indexOf('/', scheme);
  const host = slash < 0 ? url.slice(scheme) : url.slice(scheme, slash);
  if (host === '' || host.includes('@')) return `invalid authority in "${url.slice(0, 100)}"`;
  const path = slash < 0 ? '/' : url.slice(slash);
  return { host, path, pathname: pathnameOf(path), absolute: true };
}

function pathnameOf(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** HTTP/1.1 request framing says a body follows (RFC 9112 §6.1). */
export function hasRequestBody(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return true;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return raw[i + 1] !== '0';
  }
  return false;
}

/** Whether a body follows: HTTP/1.1 framing, or an HTTP/2 HEADERS frame without END_STREAM. */
export function requestHasBody(req: IncomingMessage): boolean {
  if (req.httpVersionMajor === 2) return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders;
  return hasRequestBody(req.rawHeaders);
}
