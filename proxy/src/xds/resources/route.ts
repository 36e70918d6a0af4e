// RouteConfiguration (proto) → RouteTable. Generated types stop here.
import {
  type HeaderMatcher as HeaderMatcherProto,
  RetryOn,
  type RetryPolicy as RetryPolicyProto,
  type RouteConfiguration,
} from '@weft/proto';
import { RETRY_ON, type RetryPolicy } from '../../resilience/retry.ts';
import { type HeaderMatcher, type PathMatcher, type RouteSpec, RouteTable, type VirtualHostSpec } from '../../routing/route-table.ts';
import type { Problems } from './problems.ts';

export function toRouteTable(config: RouteConfiguration, problems: Problems): RouteTable | undefined {
  const where = `RouteConfiguration "${config.name}"`;
  if (!config.name) problems.add(where, 'name', 'required');
  const virtualHosts: VirtualHostSpec[] = config.virtualHosts.map((vhost, v) => {
    const at = `virtual_hosts[${v}]`;
    if (vhost.domains.length === 0) problems.add(where, `${at}.domains`, 'at least one domain is required');
    vhost.domains.forEach((domain, d) => {
      if (domain !== '*' && !/^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(domain)) {
        problems.add(where, `${at}.domains[${d}]`, `"${domain}" is not a lower-case host name or wildcard`);
      }
    });
    const routes = vhost.routes.map((route, r): RouteSpec => {
      const rat = `${at}.routes[${r}]`;
      const clusters = (route.action?.clusters ?? []).map((c) => ({ name: c.name, weight: c.weight }));
      if (clusters.length === 0) problems.add(where, `${rat}.action.clusters`, 'at least one cluster is required');
      else if (clusters.every((c) => c.weight === 0)) problems.add(where, `${rat}.action.clusters`, 'weights must not all be 0');
      clusters.forEach((c, i) => {
        if (!c.name) problems.add(where, `${rat}.action.clusters[${i}].name`, 'required');
      });
      return {
        name: route.name,
        path: toPathMatcher(route.match?.pathSpecifier, where, `${rat}.match`, problems),
        headers: (route.match?.headers ?? []).map((h, i) => toHeaderMatcher(h, where, `${rat}.match.headers[${i}]`, problems)),
        methods: [...(route.match?.methods ?? [])],
        clusters: clusters.length === 1 ? [{ name: (clusters[0] as { name: string }).name, weight: 1 }] : clusters,
        timeoutMs: route.action?.timeoutMs ?? 0,
        retry: toRetryPolicy(route.action?.retryPolicy, route.action?.timeoutMs ?? 0, where, `${rat}.action.retry_policy`, problems),
      };
    });
    return { name: vhost.name, domains: [...vhost.domains], routes };
  });
  return problems.empty ? new RouteTable(config.name, virtualHosts) : undefined;
}

type PathSpecifier = NonNullable<RouteConfiguration['virtualHosts'][number]['routes'][number]['match']>['pathSpecifier'];

function toPathMatcher(spec: PathSpecifier | undefined, where: string, at: string, problems: Problems): PathMatcher {
  switch (spec?.case) {
    case 'prefix':
      return { kind: 'prefix', value: spec.value };
    case 'path':
      return { kind: 'exact', value: spec.value };
    case 'regex':
      return { kind: 'regex', value: compileAnchored(spec.value, where, `${at}.regex`, problems) };
    default:
      return { kind: 'prefix', value: '/' };
  }
}

function toHeaderMatcher(h: HeaderMatcherProto, where: string, at: string, problems: Problems): HeaderMatcher {
  const name = h.name;
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) problems.add(where, `${at}.name`, `"${name}" is not a lower-case header name`);
  const base = { name, invert: h.invert };
  switch (h.match.case) {
    case 'exact':
      return { ...base, kind: 'exact', value: h.match.value };
    case 'prefix':
      return { ...base, kind: 'prefix', value: h.match.value };
    case 'regex':
      return { ...base, kind: 'regex', value: compileAnchored(h.match.value, where, `${at}.regex`, problems) };
    case 'present':
      return h.match.value ? { ...base, kind: 'present' } : { ...base, kind: 'present', invert: !h.invert };
    default:
      return { ...base, kind: 'present' };
  }
}

/** Regexes match the whole value, as in Envoy's safe_regex. */
function compileAnchored(source: string, where: string, at: string, problems: Problems): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (error) {
    problems.add(where, at, `invalid regular expression: ${(error as Error).message}`);
    return /$^/;
  }
}

const MAX_RETRIES = 10;
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

const RETRY_ON_FLAG: Readonly<Record<number, number>> = {
  [RetryOn.SERVER_ERROR]: RETRY_ON['server-error'],
  [RetryOn.GATEWAY_ERROR]: RETRY_ON['gateway-error'],
  [RetryOn.RESET]: RETRY_ON.reset,
  [RetryOn.CONNECT_FAILURE]: RETRY_ON['connect-failure'],
  [RetryOn.GRPC_CANCELLED]: RETRY_ON['grpc-cancelled'],
  [RetryOn.GRPC_DEADLINE_EXCEEDED]: RETRY_ON['grpc-deadline-exceeded'],
  [RetryOn.GRPC_RESOURCE_EXHAUSTED]: RETRY_ON['grpc-resource-exhausted'],
  [RetryOn.GRPC_UNAVAILABLE]: RETRY_ON['grpc-unavailable'],
};

function toRetryPolicy(
  p: RetryPolicyProto | undefined,
  timeoutMs: number,
  where: string,
  at: string,
  problems: Problems,
): RetryPolicy | undefined {
  if (!p) return undefined;
  if (p.maxRetries > MAX_RETRIES) problems.add(where, `${at}.max_retries`, `at most ${MAX_RETRIES}`);
  let retryOn = 0;
  p.retryOn.forEach((condition, i) => {
    const flag = RETRY_ON_FLAG[condition];
    if (flag === undefined) problems.add(where, `${at}.retry_on[${i}]`, `unknown condition ${condition}`);
    else retryOn |= flag;
  });
  p.retriableStatusCodes.forEach((code, i) => {
    if (code < 100 || code > 599) problems.add(where, `${at}.retriable_status_codes[${i}]`, `${code} is not an HTTP status`);
  });
  if (p.maxRetries > 0) {
    if (p.backoffBaseMs < 1) problems.add(where, `${at}.backoff_base_ms`, 'at least 1');
    if (p.backoffMaxMs < p.backoffBaseMs) problems.add(where, `${at}.backoff_max_ms`, 'must not be below backoff_base_ms');
  }
  if (timeoutMs > 0 && p.perTryTimeoutMs > timeoutMs)
    problems.add(where, `${at}.per_try_timeout_ms`, `must not exceed the route timeout (${timeoutMs} ms)`);
  if (p.maxRequestBytes > MAX_REQUEST_BYTES) problems.add(where, `${at}.max_request_bytes`, `at most ${MAX_REQUEST_BYTES}`);
  return {
    maxRetries: p.maxRetries,
    perTryTimeoutMs: p.perTryTimeoutMs,
    retryOn,
    retriableStatusCodes: [...p.retriableStatusCodes],
    backoff: { baseMs: p.backoffBaseMs, maxMs: p.backoffMaxMs },
    retryNonIdempotent: p.retryNonIdempotent,
    maxRequestBytes: p.maxRequestBytes,
  };
}
