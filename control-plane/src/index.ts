// @weft/control-plane: what the CLI and tests use. Everything else is internal.
export { type ControlPlane, type ControlPlaneOptions, StartupError, startControlPlane, type WebhookOptions } from './app.ts';
export * from './injector/index.ts';
export { type ConfigError, formatConfigError } from './model/config-error.ts';
export { type ParsedDocument, parseMeshYaml } from './model/parse.ts';
export type { MeshResource, RouteResource, ServiceResource, WorkloadResource } from './model/resources.ts';
export { createLogger } from './telemetry/logger.ts';
