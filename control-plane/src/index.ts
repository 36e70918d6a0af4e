// @weft/control-plane: what the CLI and tests use. Everything else is internal.

export { DEFAULT_TOKEN_TTL_MS, parseTokenRequest } from './admin/identity-routes.ts';
export {
  type ControlPlane,
  type ControlPlaneOptions,
  DEFAULT_CERT_TTL_MS,
  DEFAULT_TRUST_DOMAIN,
  StartupError,
  startControlPlane,
  type WebhookOptions,
} from './app.ts';
export { BUNDLE_FILE, initCa } from './identity/ca-source.ts';
export { TokenStore } from './identity/token-store.ts';
export * from './injector/index.ts';
export { type ConfigError, formatConfigError } from './model/config-error.ts';
export { parseDurationMs } from './model/duration.ts';
export { type ParsedDocument, parseMeshYaml } from './model/parse.ts';
export type { AuthorizationPolicyResource, MeshResource, RouteResource, ServiceResource, WorkloadResource } from './model/resources.ts';
export { createLogger } from './telemetry/logger.ts';
