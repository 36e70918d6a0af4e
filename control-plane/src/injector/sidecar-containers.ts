// Renders what injection adds to a pod: the interception init container (`weft init`), the
// proxy as a native sidecar (an init container with restartPolicy Always, so it starts and
// passes its startup probe before the app starts, and Jobs still complete), and the projected
// volume with what the proxy proves its identity with (a service-account token, audience
// weft) and trusts the control plane with (the trust bundle, from the pod's annotation).
// Pure: same input, same output.
import { createHash } from 'node:crypto';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { ANNOTATION, formatPortRanges, mergePortRanges, type PodAnnotations, type PortRange } from './annotations.ts';
import {
  discoveryPort,
  INIT_CONTAINER,
  type InjectorConfig,
  PROXY_CONTAINER,
  TOKEN_FILE,
  TOKEN_MOUNT_PATH,
  TOKEN_VOLUME,
  TRUST_BUNDLE_FILE,
} from './injector-config.ts';

/** What the sidecar is rendered from: the pod's resource and port annotations, and these. */
export interface SidecarInputs extends Omit<PodAnnotations, 'inject' | 'service' | 'appPort'> {
  readonly service: string;
  /** Where the app listens (on 127.0.0.1 from the proxy's view); none for a send-only workload. */
  readonly appPort?: number;
  /** Pod labels the sidecar announces (route subsets select on them), sorted by key. */
  readonly labels: readonly (readonly [string, string])[];
}

export interface SidecarParts {
  /** In start order: interception first, then the proxy. */
  readonly initContainers: readonly [IContainer, IContainer];
  readonly volume: IVolume;
  /** The pod annotations the volume projects (the trust bundle). */
  readonly annotations: Readonly<Record<string, string>>;
  /** Short digest of everything above: equal parts, equal hash. */
  readonly hash: string;
}

export function renderSidecar(config: InjectorConfig, inputs: SidecarInputs): SidecarParts {
  const initContainers = [interceptionContainer(config, inputs), proxyContainer(config, inputs)] as const;
  const volume: IVolume = {
    name: TOKEN_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { audience: config.tokenAudience, expirationSeconds: config.tokenExpirationSeconds, path: 'token' } },
        {
          downwardAPI: {
            items: [{ path: 'ca.crt', fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION.trustBundle}']` } }],
          },
        },
      ],
    },
  };
  const annotations = { [ANNOTATION.trustBundle]: config.trustBundlePem };
  const hash = createHash('sha256').update(JSON.stringify({ initContainers, volume, annotations })).digest('hex').slice(0, 16);
  return { initContainers, volume, annotations, hash };
}

/** `weft init`: redirects the app's inbound ports and all outbound TCP to the proxy (iptables,
 * nft backend), except the proxy's own uid, loopback, the control plane and excluded ports. */
function interceptionContainer(config: InjectorConfig, inputs: SidecarInputs): IContainer {
  const captured = inputs.appPort !== undefined && !inRanges(inputs.appPort, inputs.excludeInboundPorts) ? [inputs.appPort] : [];
  const controlPlanePort = discoveryPort(config.discoveryAddress);
  const excludedOutbound = [
    ...(controlPlanePort === undefined ? [] : [{ from: controlPlanePort, to: controlPlanePort }]),
    ...inputs.excludeOutboundPorts,
  ];
  const args = ['init', '--proxy-uid', String(config.proxyUid), '--inbound-port', String(config.inboundPort)];
  args.push('--outbound-port', String(config.outboundPort));
  if (captured.length > 0) args.push('--capture-inbound-ports', captured.join(','));
  if (inputs.excludeInboundPorts.length > 0) args.push('--exclude-inbound-ports', formatPortRanges(inputs.excludeInboundPorts));
  if (excludedOutbound.length > 0) args.push('--exclude-outbound-ports', formatPortRanges(mergePortRanges(excludedOutbound)));
  return {
    name: INIT_CONTAINER,
    image: config.proxyImage,
    imagePullPolicy: config.imagePullPolicy,
    args,
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    securityContext: {
      // iptables needs root with NET_ADMIN/NET_RAW in the pod's network namespace, and a
      // writable /run for its lock file; nothing else.
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

function proxyContainer(config: InjectorConfig, inputs: SidecarInputs): IContainer {
  const args = [
    'proxy',
    '--service',
    inputs.service,
    // Filled in by the kubelet from the downward API below, so one template fits every replica.
    '--namespace',
    '$(WEFT_NAMESPACE)',
    '--node-id',
    '$(WEFT_POD_NAME)',
    '--control-plane',
    config.discoveryAddress,
    // Identity: the pod's projected service-account token (re-read for every certificate, as
    // the kubelet rotates it) and the bundle to trust the control plane with.
    '--token-file',
    TOKEN_FILE,
    '--trust-bundle',
    TRUST_BUNDLE_FILE,
    '--trust-domain',
    config.trustDomain,
  ];
  if (inputs.appPort !== undefined) args.push('--app-port', String(inputs.appPort));
  args.push('--inbound-host', '0.0.0.0', '--inbound-port', String(config.inboundPort));
  args.push('--outbound-port', String(config.outboundPort));
  // The kubelet probes from outside the pod; /shutdown and /config_dump answer loopback only.
  args.push('--admin-host', '0.0.0.0', '--admin-port', String(config.adminPort));
  args.push('--log-level', config.logLevel);
  for (const [key, value] of inputs.labels) args.push('--label', `${key}=${value}`);

  const admin = (path: string) => ({ httpGet: { path, port: config.adminPort } });
  const requests: Record<string, string> = {
    cpu: inputs.cpuRequest ?? config.resources.cpuRequest,
    memory: inputs.memoryRequest ?? config.resources.memoryRequest,
  };
  const limits: Record<string, string> = {};
  const cpuLimit = inputs.cpuLimit ?? config.resources.cpuLimit;
  if (cpuLimit) limits['cpu'] = cpuLimit;
  const memoryLimit = inputs.memoryLimit ?? config.resources.memoryLimit;
  if (memoryLimit) limits['memory'] = memoryLimit;

  return {
    name: PROXY_CONTAINER,
    image: config.proxyImage,
    imagePullPolicy: config.imagePullPolicy,
    // A native sidecar: started before the app containers, stopped after them.
    restartPolicy: 'Always',
    args,
    env: [
      { name: 'WEFT_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'WEFT_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'WEFT_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'WEFT_SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
    ],
    ports: [
      { name: 'weft-inbound', containerPort: config.inboundPort, protocol: 'TCP' },
      { name: 'weft-admin', containerPort: config.adminPort, protocol: 'TCP' },
    ],
    resources: { requests, ...(Object.keys(limits).length > 0 ? { limits } : {}) },
    // The app starts only once this passes: the sidecar has its first full config.
    startupProbe: { ...admin('/ready'), periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 120 },
    readinessProbe: { ...admin('/ready'), periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 },
    livenessProbe: { ...admin('/live'), periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 },
    securityContext: {
      runAsUser: config.proxyUid,
      runAsGroup: config.proxyUid,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

function inRanges(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some((r) => port >= r.from && port <= r.to);
}
