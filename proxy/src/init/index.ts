// `weft init` on its own: the CLI imports only this, so the init container does not load the
// sidecar (gRPC, undici, TLS) just to write iptables rules.
export { type InitFlags, type InterceptionPlan, parseInitFlags } from './init-options.ts';
export { interceptionTransaction } from './iptables-rules.ts';
export { describePlan, type InitResult, installInterception, uninstallInterception } from './weft-init.ts';
