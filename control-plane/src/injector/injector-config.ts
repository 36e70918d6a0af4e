// What the injector puts beside every workload: the proxy image, where sidecars find the
// control plane, ports, the proxy's uid, resources. One value shared by `weft inject` and
// the admission webhook, so both produce the same pod. Per-pod overrides are annotations.

/** The proxy release this injector targets; kept equal to @weft/proxy's PROXY_VERSION (a test checks). */
export const INJECTED_PROXY_VERSION = '0.1.0';

export interface ProxyResources {
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  /** Empty: no CPU limit (throttling a proxy adds latency to every request it carries). */
  readonly cpuLimit: string;
  readonly memoryLimit: string;
}

export interface InjectorConfig {
  readonly proxyImage: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  readonly proxyVersion: string;
  /** host:port of the control plane's discovery service, as sidecars dial it. */
  readonly discoveryAddress: string;
  /** The uid (and gid) the proxy runs as; interception leaves this user's traffic alone. */
  readonly proxyUid: number;
  readonly inboundPort: number;
  readonly outboundPort: number;
  readonly adminPort: number;
  readonly resources: ProxyResources;
  /** Audience of the projected service-account token the sidecar proves its identity with. */
  readonly tokenAudience: string;
  readonly tokenExpirationSeconds: number;
  readonly logLevel: string;
}

export const DEFAULT_INJECTOR_CONFIG: InjectorConfig = {
  proxyImage: `weft/proxy:${INJECTED_PROXY_VERSION}`,
  imagePullPolicy: 'IfNotPresent',
  proxyVersion: INJECTED_PROXY_VERSION,
  discoveryAddress: 'weft-control-plane.weft-system.svc:15010',
  proxyUid: 2102,
  inboundPort: 15006,
  outboundPort: 15001,
  adminPort: 15020,
  resources: { cpuRequest: '100m', memoryRequest: '64Mi', cpuLimit: '', memoryLimit: '256Mi' },
  tokenAudience: 'weft',
  tokenExpirationSeconds: 3600,
  logLevel: 'info',
};

/** Where the projected token is mounted in the proxy container. */
export const TOKEN_MOUNT_PATH = '/var/run/secrets/weft.io/serviceaccount';
export const TOKEN_FILE = `${TOKEN_MOUNT_PATH}/token`;

/** Names the injector owns in a pod; anything so named is treated as injected. */
export const PROXY_CONTAINER = 'weft-proxy';
export const INIT_CONTAINER = 'weft-init';
export const TOKEN_VOLUME = 'weft-token';

/** A host:port the sidecars can dial, or a message saying why not. */
export function discoveryPort(address: string): number | undefined {
  const match = /^[^\s:]+:(\d{1,5})$/.exec(address);
  const port = match ? Number(match[1]) : Number.NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}
