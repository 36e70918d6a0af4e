// What the injector puts beside every workload: the proxy image, where sidecars find the
// control plane, ports, the proxy's uid, resources. One value shared by `weft inject` and
// the admission webhook, so both produce the same pod. Per-pod overrides are annotations.
import { TrustBundle } from '@weft/certs';

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
  /** The mesh's trust domain: injected sidecars ask for spiffe://<it>/ns/<namespace>/sa/<service>. */
  readonly trustDomain: string;
  /** The roots injected sidecars trust the control plane with at startup (canonical PEM, as
   * TrustBundle.pem); later bundles come over discovery. Empty: injection is refused. */
  readonly trustBundlePem: string;
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
  trustDomain: 'cluster.local',
  trustBundlePem: '',
  logLevel: 'info',
};

/** Where the projected token is mounted in the proxy container, beside the trust bundle
 * (projected from the pod's weft.io/trust-bundle annotation): the layout of Kubernetes' own
 * /var/run/secrets/kubernetes.io/serviceaccount. */
export const TOKEN_MOUNT_PATH = '/var/run/secrets/weft.io/serviceaccount';
export const TOKEN_FILE = `${TOKEN_MOUNT_PATH}/token`;
export const TRUST_BUNDLE_FILE = `${TOKEN_MOUNT_PATH}/ca.crt`;

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

/** A trust bundle file's text as the injector writes it: its CA certificates in canonical PEM
 * (the form the control plane's CA gives the webhook), so both paths inject the same bytes. */
export function injectedTrustBundle(text: string, source: string): { ok: true; pem: string } | { ok: false; error: string } {
  const parsed = TrustBundle.fromPem(text, source);
  return parsed.ok ? { ok: true, pem: parsed.bundle.pem } : parsed;
}
