// An immutable routing table built from one RouteConfiguration. A request finds its
// virtual host by Host (port removed; exact names first, then the longest wildcard
// suffix), then the first route whose path, method and headers all match.
import type { RetryPolicy } from '../resilience/retry.ts';
import { type WeightedPicker, weightedPicker } from './weighted-picker.ts';

export type PathMatcher =
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: RegExp };

export type HeaderMatcher = { readonly name: string; readonly invert: boolean } & (
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: RegExp }
  | { readonly kind: 'present' }
);

export interface RouteSpec {
  readonly name: string;
  readonly path: PathMatcher;
  readonly headers: readonly HeaderMatcher[];
  readonly methods: readonly string[];
  readonly clusters: readonly { readonly name: string; readonly weight: number }[];
  /** Whole request, every attempt and backoff included; 0: none. */
  readonly timeoutMs: number;
  /** Undefined: never retried. */
  readonly retry: RetryPolicy | undefined;
}

export interface VirtualHostSpec {
  readonly name: string;
  readonly domains: readonly string[];
  readonly routes: readonly RouteSpec[];
}

/** A matched route, ready for the request: which cluster it picked. */
export interface Route extends RouteSpec {
  readonly virtualHost: string;
  /** Picks one cluster by weight. */
  pickCluster(): string;
}

/** What a header matcher reads: lower-case name → value(s). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

export class RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHostSpec[];
  readonly #exact = new Map<string, readonly Route[]>();
  /** Wildcards as [suffix including the dot, routes], longest suffix first. */
  readonly #wildcards: [string, readonly Route[]][] = [];
  readonly #catchAll: readonly Route[] | undefined;
  /** Every cluster some route can send to. */
  readonly clusterNames: ReadonlySet<string>;

  constructor(name: string, virtualHosts: readonly VirtualHostSpec[]) {
    this.name = name;
    this.virtualHosts = virtualHosts;
    const clusterNames = new Set<string>();
    let catchAll: readonly Route[] | undefined;
    for (const vhost of virtualHosts) {
      const routes = vhost.routes.map((spec) => toRoute(vhost.name, spec));
      for (const spec of vhost.routes) for (const c of spec.clusters) clusterNames.add(c.name);
      for (const domain of vhost.domains) {
        if (domain === '*') catchAll ??= routes;
        else if (domain.startsWith('*.')) this.#wildcards.push([domain.slice(1), routes]);
        else if (!this.#exact.has(domain)) this.#exact.set(domain, routes);
      }
    }
    this.#wildcards.sort((a, b) => b[0].length - a[0].length);
    this.#catchAll = catchAll;
    this.clusterNames = clusterNames;
  }

  /** Routes for a Host header value (any port is ignored, case-insensitive). */
  routesFor(hostHeader: string): readonly Route[] | undefined {
    const host = hostWithoutPort(hostHeader);
    const exact = this.#exact.get(host);
    if (exact) return exact;
    for (const [suffix, routes] of this.#wildcards) {
      if (host.length > suffix.length && host.endsWith(suffix)) return routes;
    }
    return this.#catchAll;
  }

  /**
   * The first route that matches. `headers` is read only when a route has header
   * matchers, so callers pass a getter to avoid building the header object otherwise.
   */
  match(hostHeader: string, path: string, method: string, headers: () => RequestHeaders): Route | undefined {
    const routes = this.routesFor(hostHeader);
    if (!routes) return undefined;
    let requestHeaders: RequestHeaders | undefined;
    for (const route of routes) {
      if (!pathMatches(route.path, path)) continue;
      if (route.methods.length > 0 && !route.methods.includes(method)) continue;
      if (route.headers.length > 0) {
        requestHeaders ??= headers();
        if (!route.headers.every((m) => headerMatches(m, requestHeaders as RequestHeaders))) continue;
      }
      return route;
    }
    return undefined;
  }
}

export function hostWithoutPort(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close > 0) return host.slice(0, close + 1).toLowerCase();
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) end = colon;
  }
  const bare = end === host.length ? host : host.slice(0, end);
  return bare.toLowerCase();
}

function toRoute(virtualHost: string, spec: RouteSpec): Route {
  const picker: WeightedPicker<string> = weightedPicker(spec.clusters.map((c) => ({ value: c.name, weight: c.weight })));
  return { ...spec, virtualHost, pickCluster: picker };
}

function pathMatches(matcher: PathMatcher, path: string): boolean {
  switch (matcher.kind) {
    case 'prefix':
      return matcher.value === '/' || path.startsWith(matcher.value);
    case 'exact':
      return path === matcher.value;
    case 'regex':
      return matcher.value.test(path);
  }
}

function headerMatches(matcher: HeaderMatcher, headers: RequestHeaders): boolean {
  const raw = headers[matcher.name];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  let matched: boolean;
  if (value === undefined) matched = false;
  else if (matcher.kind === 'present') matched = true;
  else if (matcher.kind === 'exact') matched = value === matcher.value;
  else if (matcher.kind === 'prefix') matched = value.startsWith(matcher.value);
  else matched = matcher.value.test(value);
  return matched !== matcher.invert;
}
