// Listener (proto) → ListenerSpec. This sidecar serves one outbound HTTP listener and one
// inbound listener on ports its flags give, plus an outbound opaque TCP listener on
// 127.0.0.1:<port> per tcp service it calls (outbound/tcp-listeners.ts binds them). The
// inbound one carries the mTLS mode and the AuthorizationPolicies of this service.
import { type AuthorizationPolicy, type Listener, MtlsMode, Protocol, TrafficDirection } from '@weft/proto';
import type { AuthorizationPolicySpec, PrincipalMatcher } from '../../inbound/authorization.ts';
import type { MtlsMode as Mode } from '../../tls/inbound-tls.ts';
import type { Problems } from './problems.ts';

export interface ListenerSpec {
  readonly name: string;
  readonly direction: 'inbound' | 'outbound';
  readonly routeConfigName: string;
  readonly mtlsMode: Mode;
  readonly policies: readonly AuthorizationPolicySpec[];
  /** Opaque TCP (outbound only): every connection to 127.0.0.1:port goes to `cluster`. */
  readonly tcp: { readonly cluster: string; readonly port: number } | undefined;
  /** Inbound: how the app is spoken to. 'h2': always HTTP/2 cleartext (the service declared
   * http2 or grpc); 'caller': the protocol the request came in (http, or none declared). */
  readonly appProtocol: 'h2' | 'caller';
}

export function toListenerSpec(listener: Listener, problems: Problems): ListenerSpec {
  const where = `Listener "${listener.name}"`;
  const direction = listener.direction === TrafficDirection.INBOUND ? 'inbound' : 'outbound';
  if (listener.direction === TrafficDirection.UNSPECIFIED) problems.add(where, 'direction', 'required');
  const tcp = direction === 'outbound' && listener.protocol === Protocol.TCP;
  if (tcp) {
    if (!listener.cluster) problems.add(where, 'cluster', 'required for a TCP listener');
    if (listener.port < 1 || listener.port > 65535) problems.add(where, 'port', `${listener.port} is not a port (1-65535)`);
  } else if (direction === 'outbound' && !listener.routeConfigName) {
    problems.add(where, 'route_config_name', 'required for an HTTP listener');
  }
  return {
    name: listener.name,
    direction,
    routeConfigName: listener.routeConfigName,
    mtlsMode: listener.mtlsMode === MtlsMode.PERMISSIVE ? 'permissive' : listener.mtlsMode === MtlsMode.DISABLED ? 'disabled' : 'strict',
    policies: listener.authorizationPolicies.map((p, i) => toPolicy(p, where, `authorization_policies[${i}]`, problems)),
    tcp: tcp ? { cluster: listener.cluster, port: listener.port } : undefined,
    appProtocol: listener.protocol === Protocol.HTTP2 || listener.protocol === Protocol.GRPC ? 'h2' : 'caller',
  };
}

function toPolicy(policy: AuthorizationPolicy, where: string, at: string, problems: Problems): AuthorizationPolicySpec {
  if (!policy.name) problems.add(where, `${at}.name`, 'required');
  return {
    name: policy.name,
    rules: policy.rules.map((rule, r) => {
      const rat = `${at}.rules[${r}]`;
      const from = rule.from.map((m, f): PrincipalMatcher => {
        const value = m.match.value ?? '';
        if (!value.startsWith('spiffe://')) problems.add(where, `${rat}.from[${f}]`, `"${value}" is not a SPIFFE ID`);
        if (m.match.case === 'prefix') {
          if (!value.endsWith('/')) problems.add(where, `${rat}.from[${f}].prefix`, 'must end with "/"');
          return { kind: 'prefix', value };
        }
        return { kind: 'exact', value };
      });
      rule.methods.forEach((m, i) => {
        if (!/^[A-Z]+$/.test(m)) problems.add(where, `${rat}.methods[${i}]`, `"${m}" is not an upper-case method`);
      });
      rule.pathPrefixes.forEach((p, i) => {
        if (!p.startsWith('/')) problems.add(where, `${rat}.path_prefixes[${i}]`, `"${p}" must start with "/"`);
      });
      return { from, methods: [...rule.methods], pathPrefixes: [...rule.pathPrefixes] };
    }),
  };
}
