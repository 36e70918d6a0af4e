// Wires the control plane: config sources → store → discovery server, plus the endpoint
// registry and the admin API. Owns startup and shutdown order.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createAdminServer } from './admin/admin-server.ts';
import { Collector } from './collector/collector.ts';
import { OtlpForwarder } from './collector/otlp-forwarder.ts';
import { handleMeshApi } from './dashboard/mesh-api.ts';
import { type ConfigError, formatConfigError } from './model/config-error.ts';
import { EndpointRegistry } from './registry/endpoint-registry.ts';
import { createFileSource, type FileSource } from './sources/file-source.ts';
import { ChangeClock } from './store/change-clock.ts';
import { ConfigStore } from './store/config-store.ts';
import { createLogger } from './telemetry/logger.ts';
import { DiscoveryServer } from './xds/discovery-server.ts';

export interface ControlPlaneOptions {
  /** Mesh config file to load and watch. Optional: config may also arrive by `weft apply`. */
  readonly configPath?: string | undefined;
  readonly dataDir: string;
  readonly host: string;
  /** gRPC discovery port; 0 picks a free one. */
  readonly xdsPort: number;
  /** HTTP admin API port; 0 picks a free one. */
  readonly adminPort: number;
  readonly pushDebounceMs?: number;
  /** How long endpoints restored after a restart wait for their sidecars to reconnect. */
  readonly endpointRestoreGraceMs?: number;
  /** OTLP/HTTP traces endpoint that receives every span the sidecars report. */
  readonly otlpEndpoint?: string | undefined;
  readonly log?: Logger;
}

export interface ControlPlane {
  readonly xdsAddress: string;
  readonly adminAddress: string;
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

  const controlPlaneId = `${hostname()}-${process.pid}`;
  const discovery = new DiscoveryServer({
    store,
    endpoints,
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
  if (options.otlpEndpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(options.otlpEndpoint)) {
    grpcServer.forceShutdown();
    fileSource?.close();
    throw new StartupError(`--otlp-endpoint: "${options.otlpEndpoint}" is not an http(s) URL`);
  }
  const otlp = options.otlpEndpoint ? new OtlpForwarder({ url: options.otlpEndpoint, log }) : undefined;
  const collector = new Collector({ log, otlp });
  collector.register(grpcServer);
  const xdsPort = await new Promise<number>((done, fail) =>
    grpcServer.bindAsync(`${options.host}:${options.xdsPort}`, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? fail(new StartupError(`cannot listen for discovery on ${options.host}:${options.xdsPort}: ${error.message}`)) : done(port),
    ),
  );

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
    extraRoutes: (req, res, url) => handleMeshApi(req, res, url, { collector, knownServices }),
  });
  admin.listen(options.adminPort, options.host);
  try {
    await once(admin, 'listening');
  } catch (error) {
    grpcServer.forceShutdown();
    throw new StartupError(`cannot listen for the admin API on ${options.host}:${options.adminPort}: ${(error as Error).message}`);
  }
  const adminPort = (admin.address() as AddressInfo).port;
  ready = true;

  const xdsAddress = `${options.host}:${xdsPort}`;
  const adminAddress = `http://${options.host}:${adminPort}`;
  log.info({ xds: xdsAddress, admin: adminAddress, dataDir, changeId: store.state.changeId }, 'control plane listening');

  return {
    xdsAddress,
    adminAddress,
    async close() {
      fileSource?.close();
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

function logRejected(log: Logger, errors: readonly ConfigError[]): void {
  for (const error of errors) log.error({ error: formatConfigError(error) }, 'config rejected; keeping the last good config');
}
