// @weft/proxy: what the CLI and tests use to run a sidecar.
export { PROXY_VERSION, type Proxy, ProxyStartupError, startProxy } from './app.ts';
export { type OptionsResult, type ProxyOptions, type ProxyOptionsInput, parseProxyOptions } from './config/options.ts';
export { createLogger } from './telemetry/logger.ts';
