// AuthorizationPolicy enforcement for the inbound listener. Policies are allow lists for
// this workload's service: with none, every peer may call; with some, a request must match
// a rule of at least one, otherwise it is denied and the denial names them. A rule matches
// when the peer's SPIFFE ID matches one of its principals (or it names none), the method is
// listed (or none are) and the path starts with a listed prefix (or none are).
// A plaintext peer (permissive mode) has no identity and matches only rules without `from`.
// An opaque TCP connection matches only rules without methods and paths (checkConnection).

export type PrincipalMatcher = { readonly kind: 'exact'; readonly value: string } | { readonly kind: 'prefix'; readonly value: string };

export interface AuthorizationRuleSpec {
  readonly from: readonly PrincipalMatcher[];
  readonly methods: readonly string[];
  readonly pathPrefixes: readonly string[];
}

export interface AuthorizationPolicySpec {
  readonly name: string;
  readonly rules: readonly AuthorizationRuleSpec[];
}

export class Authorizer {
  readonly policies: readonly AuthorizationPolicySpec[];
  readonly #names: readonly string[];

  constructor(policies: readonly AuthorizationPolicySpec[]) {
    this.policies = policies;
    this.#names = policies.map((p) => p.name);
  }

  /** Undefined when allowed; otherwise the names of the policies, none of which allowed it. */
  check(peer: string | undefined, method: string, path: string): readonly string[] | undefined {
    for (const policy of this.policies) {
      for (const rule of policy.rules) if (ruleMatches(rule, peer, method, path)) return undefined;
    }
    return this.#names;
  }

  /** For an opaque TCP connection: only rules that name no methods or paths can match it
   * (nothing HTTP is known about it), as Istio does for TCP. */
  checkConnection(peer: string | undefined): readonly string[] | undefined {
    for (const policy of this.policies) {
      for (const rule of policy.rules) {
        if (rule.methods.length === 0 && rule.pathPrefixes.length === 0 && ruleMatches(rule, peer, '', '')) return undefined;
      }
    }
    return this.#names;
  }
}

function ruleMatches(rule: AuthorizationRuleSpec, peer: string | undefined, method: string, path: string): boolean {
  if (rule.from.length > 0) {
    if (peer === undefined) return false;
    let found = false;
    for (const p of rule.from) {
      if (p.kind === 'exact' ? peer === p.value : peer.startsWith(p.value)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  if (rule.methods.length > 0 && !rule.methods.includes(method)) return false;
  if (rule.pathPrefixes.length > 0) {
    let found = false;
    for (const prefix of rule.pathPrefixes) {
      if (path.startsWith(prefix)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
