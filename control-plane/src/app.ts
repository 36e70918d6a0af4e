// Wires the control plane: config sources → store → discovery server, plus the endpoint
// registry, the certificate authority (CA service and the trust bundle on the discovery
// stream), the admin API and (on Kubernetes) the sidecar injection webhook. Owns startup
// and shutdown order.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createAdminServer } from './admin/admin-server.ts';
import { Collector } from './collector/collector.ts';
import { OtlpForwarder } from './collector/otlp-forwarder.ts';
import { handleMeshApi } from './dashboard/mesh-api.ts';
import { CaService } from './identity/ca-service.ts';
import { BUNDLE_FILE, type CaFiles, CaSource, loadCaState } from './identity/ca-source.ts';
import { type KubernetesIdentityOptions, setUpKubernetesIdentity } from './identity/kubernetes-identity.ts';
import { ServingIdentity } from './identity/serving-identity.ts';
import { TokenStore } from './identity/token-store.ts';
import type { InjectorConfig } from './injector/injector-config.ts';
import { type ConfigError, formatConfigError } from './model/config-error.ts';
import { EndpointRegistry } from './registry/endpoint-registry.ts';
import { createFileSource, type FileSource } from './sources/file-source.ts';
import { ChangeClock } from './store/change-clock.ts';
import { ConfigStore } from './store/config-store.ts';
import { createLogger } from './telemetry/logger.ts';
import { startWebhookServer, type WebhookServer } from './webhook/webhook-server.ts';
import { DiscoveryServer, type TrustSource } from './xds/discovery-server.ts';

export interface ControlPlaneOptions {
  /** Mesh config file to load and watch. Optional: config may also arrive by `weft apply`. */
  readonly configPath?: string | undefined;
  readonly dataDir: string;
  readonly host: string;
  /** gRPC discovery port; 0 picks a free one. */
  readonly xdsPort: number;
  /** HTTP admin API port; 0 picks a free one. */
  readonly adminPort: number;
  /** Where the admin API listens (default `host`): it changes config, so keep it private. */
  readonly adminHost?: string | undefined;
  /** The sidecar injection webhook (HTTPS); off when absent. */
  readonly webhook?: WebhookOptions | undefined;
  readonly pushDebounceMs?: number;
  /** How long endpoints restored after a restart wait for their sidecars to reconnect. */
  readonly endpointRestoreGraceMs?: number;
  /** SPIFFE trust domain of every identity this control plane issues. */
  readonly trustDomain?: string;
  /** Operator CA files; without them a self-signed root is kept in the data directory. */
  readonly ca?: CaFiles;
  /** Lifetime of issued workload certificates. */
  readonly certTtlMs?: number;
  /** OTLP/HTTP traces endpoint that receives every span the sidecars report. */
  readonly otlpEndpoint?: string | undefined;
  /** Accept Kubernetes service-account tokens (the --k8s-* flags); off when empty. */
  readonly kubernetes?: KubernetesIdentityOptions;
  readonly log?: Logger;
}

export interface WebhookOptions {
  readonly host: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  readonly injector: InjectorConfig;
}
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_CERT_TTL_MS = 24 * 3600 * 1000;

export interface ControlPlane {
  readonly xdsAddress: string;
  readonly adminAddress: string;
  /** https://host:port when the webhook runs. */
  readonly webhookAddress: string | undefined;
  /** The trust bundle file sidecars are started with (`weft proxy --trust-bundle`). */
  readonly trustBundlePath: string;
  close(): Promise<void>;
}

/** Bad startup config or an unusable port: the CLI prints it and exits 1. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.details = details;
  }
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.log ?? createLogger();
  const dataDir = resolve(options.dataDir);
  const clock = new ChangeClock();
  const store = new ConfigStore({ clock, dataDir, log });
  const endpoints = new EndpointRegistry({ clock, dataDir, log, restoreGraceMs: options.endpointRestoreGraceMs ?? 15_000 });

  let fileSource: FileSource | undefined;
  if (options.configPath) {
    fileSource = createFileSource({ path: options.configPath, store, log });
    const result = fileSource.load();
    if (!result.ok) {
      const details = result.errors.map(formatConfigError);
      if (!store.restored) {
        fileSource.close();
        throw new StartupError(`invalid config in ${options.configPath}`, details);
      }
      logRejected(log, result.errors);
    }
  }

  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const certTtlMs = options.certTtlMs ?? DEFAULT_CERT_TTL_MS;
  const caOptions = { dataDir, trustDomain, ...options.ca };
  const loaded = loadCaState(caOptions);
  if (!loaded.ok) {
    fileSource?.close();
    throw new StartupError('cannot set up the certificate authority', loaded.errors);
  }
  const kubernetes = setUpKubernetesIdentity(options.kubernetes ?? {}, log);
  if (!kubernetes.ok) {
    fileSource?.close();
    throw new StartupError('cannot set up Kubernetes service-account identity', kubernetes.errors);
  }
  const serviceAccountTokens = kubernetes.verifier;
  const caSource = new CaSource(loaded.state, caOptions, log);
  const tokens = new TokenStore(dataDir);
  const caService = new CaService({ source: caSource, tokens, serviceAccountTokens, certTtlMs, log });
  const serving = new ServingIdentity(caSource, certTtlMs, log);
  const trust: TrustSource = {
    current: () => ({
      trustDomain,
      roots: caSource.state.bundle.roots.map((r) => r.raw),
      signer: caSource.state.ca.certificate.raw,
    }),
    onChange: (listener) => caSource.onChange(() => listener()),
  };

  const controlPlaneId = `${hostname()}-${process.pid}`;
  const discovery = new DiscoveryServer({
    store,
    endpoints,
    trust,
    clock,
    log,
    controlPlaneId,
    debounceMs: options.pushDebounceMs ?? 50,
  });
  const grpcServer = new grpc.Server({
    // Sidecars ping to notice a dead control plane; allow it even between pushes.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
  discovery.register(grpcServer);
  caService.register(grpcServer);
  const stopIdentity = () => {
    serving.close();
    caSource.close();
    serviceAccountTokens?.keys.close();
  };
  if (options.otlpEndpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(options.otlpEndpoint)) {
    stopIdentity();
    fileSource?.close();
    throw new StartupError(`--otlp-endpoint: "${options.otlpEndpoint}" is not an http(s) URL`);
  }
  const otlp = options.otlpEndpoint ? new OtlpForwarder({ url: options.otlpEndpoint, log }) : undefined;
  const collector = new Collector({ log, otlp, trustDomain });
  collector.register(grpcServer);
  const xdsPort = await new Promise<number>((done, fail) =>
    grpcServer.bindAsync(`${options.host}:${options.xdsPort}`, serving.serverCredentials(), (error, port) =>
      error ? fail(new StartupError(`cannot listen for discovery on ${options.host}:${options.xdsPort}: ${error.message}`)) : done(port),
    ),
  ).catch((error: unknown) => {
    stopIdentity();
    throw error;
  });

  let ready = false;
  const knownServices = () => {
    const meshed = new Map<string, { service: string; namespace: string; meshed: number }>();
    for (const { resource } of store.state.resources.values()) {
      if (resource.kind !== 'Service') continue;
      const key = `${resource.metadata.namespace}/${resource.metadata.name}`;
      meshed.set(key, { service: resource.metadata.name, namespace: resource.metadata.namespace, meshed: 0 });
    }
    for (const { node } of discovery.sessions()) {
      const key = `${node.namespace}/${node.service}`;
      const entry = meshed.get(key) ?? { service: node.service, namespace: node.namespace, meshed: 0 };
      entry.meshed += 1;
      meshed.set(key, entry);
    }
    return [...meshed.values()];
  };
  const admin = createAdminServer({
    store,
    discovery,
    log,
    isReady: () => ready,
    changeId: () => clock.current,
    identity: { tokens, ca: caSource },
    certificateOf: (nodeId) => caService.issuedTo(nodeId),
    extraRoutes: (req, res, url) => handleMeshApi(req, res, url, { collector, knownServices }),
  });
  const adminHost = options.adminHost ?? options.host;
  admin.listen(options.adminPort, adminHost);
  try {
    await once(admin, 'listening');
  } catch (error) {
    grpcServer.forceShutdown();
    stopIdentity();
    throw new StartupError(`cannot listen for the admin API on ${adminHost}:${options.adminPort}: ${(error as Error).message}`);
  }
  const adminPort = (admin.address() as AddressInfo).port;

  let webhook: WebhookServer | undefined;
  if (options.webhook) {
    const injector = options.webhook.injector;
    // Injected sidecars trust what this CA's bundle holds now, in this trust domain.
    const currentInjector = () => ({ ...injector, trustDomain, trustBundlePem: caSource.state.bundle.pem });
    try {
      webhook = await startWebhook(options.webhook, currentInjector, log, () => ready);
    } catch (error) {
      admin.close();
      grpcServer.forceShutdown();
      stopIdentity();
      throw error;
    }
  }
  ready = true;

  const xdsAddress = `${options.host}:${xdsPort}`;
  const adminAddress = `http://${adminHost}:${adminPort}`;
  const webhookAddress = webhook && options.webhook ? `https://${options.webhook.host}:${webhook.port}` : undefined;
  const trustBundlePath = resolve(dataDir, BUNDLE_FILE);
  log.info(
    {
      xds: xdsAddress,
      admin: adminAddress,
      webhook: webhookAddress,
      dataDir,
      changeId: store.state.changeId,
      trustDomain,
      trustBundle: trustBundlePath,
      serviceAccountIssuer: serviceAccountTokens?.issuer,
    },
    'control plane listening',
  );

  return {
    xdsAddress,
    adminAddress,
    webhookAddress,
    trustBundlePath,
    async close() {
      fileSource?.close();
      await webhook?.close();
      stopIdentity();
      discovery.close();
      collector.close();
      await otlp?.close();
      endpoints.close();
      admin.closeAllConnections();
      await new Promise<void>((done) => admin.close(() => done()));
      await new Promise<void>((done) => grpcServer.tryShutdown(() => done()));
    },
  };
}

async function startWebhook(
  options: WebhookOptions,
  injector: () => InjectorConfig,
  log: Logger,
  isReady: () => boolean,
): Promise<WebhookServer> {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(options.certFile);
    key = readFileSync(options.keyFile);
  } catch (error) {
    throw new StartupError(`--webhook-cert/--webhook-key: cannot read: ${(error as Error).message}`);
  }
  try {
    return await startWebhookServer({ host: options.host, port: options.port, cert, key, injector, log, isReady });
  } catch (error) {
    throw new StartupError(`cannot serve the webhook on ${options.host}:${options.port}: ${(error as Error).message}`);
  }
}

function logRejected(log: Logger, errors: readonly ConfigError[]): void {
  for (const error of errors) log.error({ error: formatConfigError(error) }, 'config rejected; keeping the last good config');
}
