// Where a request is going: Host header and origin-form path, or an absolute-form URI
// (the app uses the sidecar as HTTP_PROXY). RFC 9112 §3.2.2: with absolute-form the URI's
// authority replaces Host.
// HTTP/2 requests carry the authority as :authority.
import type { ProxyRequest } from './exchange.ts';
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

export function requestTarget(req: ProxyRequest): RequestTarget | string {
  const url = req.url;
  if (url.charCodeAt(0) === 47 /* / */) {
    // From the raw pairs: req.headers would build an object of every header for one value.
    // HTTP/2 names the authority :authority.
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
