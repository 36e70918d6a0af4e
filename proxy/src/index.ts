// @weft/proxy: what the CLI and tests use to run a sidecar.
export { PROXY_VERSION, type Proxy, ProxyStartupError, startProxy } from './app.ts';
export { type OptionsResult, type ProxyOptions, type ProxyOptionsInput, parseProxyOptions } from './config/options.ts';
export { type InitFlags, type InterceptionPlan, parseInitFlags } from './init/init-options.ts';
export { interceptionTransaction } from './init/iptables-rules.ts';
export { describePlan, type InitResult, installInterception, uninstallInterception } from './init/weft-init.ts';
export { createLogger } from './telemetry/logger.ts';
