// Sidecar injection, shared by `weft inject` (manifests) and the admission webhook (pods).
// Also importable alone as @weft/control-plane/injector, without the rest of the control plane.
export { type ConfigError, formatConfigError } from '../model/config-error.ts';
export { ANNOTATION } from './annotations.ts';
export { type InjectManifestsResult, type InjectReport, injectManifests } from './inject-manifests.ts';
export {
  DEFAULT_INJECTOR_CONFIG,
  INIT_CONTAINER,
  INJECTED_PROXY_VERSION,
  type InjectorConfig,
  injectedTrustBundle,
  PROXY_CONTAINER,
  TOKEN_FILE,
  TOKEN_VOLUME,
  TRUST_BUNDLE_FILE,
} from './injector-config.ts';
export { formatFieldPath } from './paths.ts';
export { applyPlan, type InjectionOutcome, type InjectionPlan, planInjection, type Selection } from './plan-injection.ts';
export { WORKLOAD_KINDS } from './workloads.ts';
