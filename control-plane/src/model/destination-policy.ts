// The effective policy for one destination: defaults, overlaid field by field with the
// service-wide DestinationPolicy, then with the one for exactly this subset. Pure; the
// snapshot builder uses it for every cluster and validation for checks across documents.
import { DEFAULT_DESTINATION_POLICY, type EffectiveDestinationPolicy } from './defaults.ts';
import type { DestinationPolicyResource, DestinationPolicySpec } from './resources.ts';

/** Whether a policy's subset is exactly `subset` (no subset: the whole service). */
export function sameSubset(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>>): boolean {
  const ak = Object.keys(a ?? {});
  if (ak.length !== Object.keys(b).length) return false;
  return ak.every((k) => a?.[k] === b[k]);
}

export function effectivePolicy(
  policies: readonly DestinationPolicyResource[],
  subset: Readonly<Record<string, string>>,
): EffectiveDestinationPolicy {
  const serviceWide = policies.find((p) => sameSubset(p.spec.subset, {}))?.spec;
  const forSubset = Object.keys(subset).length > 0 ? policies.find((p) => sameSubset(p.spec.subset, subset))?.spec : undefined;
  let policy = DEFAULT_DESTINATION_POLICY;
  for (const layer of [serviceWide, forSubset]) if (layer) policy = overlay(policy, layer);
  return policy;
}

function overlay(base: EffectiveDestinationPolicy, spec: DestinationPolicySpec): EffectiveDestinationPolicy {
  return {
    loadBalancer: merge(base.loadBalancer, spec.loadBalancer),
    connectionPool: merge(base.connectionPool, spec.connectionPool),
    circuitBreakers: merge(base.circuitBreakers, spec.circuitBreakers),
    outlierDetection: merge(base.outlierDetection, spec.outlierDetection),
    retryBudget: merge(base.retryBudget, spec.retryBudget),
  };
}

/** `base` with every field `over` sets (undefined fields leave base alone). */
function merge<T extends object>(base: T, over: { readonly [K in keyof T]?: T[K] | undefined } | undefined): T {
  if (!over) return base;
  const out = { ...base };
  for (const key of Object.keys(over) as (keyof T)[]) {
    const value = over[key];
    if (value !== undefined) out[key] = value as T[keyof T];
  }
  return out;
}
