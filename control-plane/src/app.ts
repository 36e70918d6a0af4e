// Wires the control plane: config sources → store → discovery server, plus the endpoint
// registry, the admin API and (on Kubernetes) the sidecar injection webhook. Owns startup
// and shutdown order.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createAdminServer } from './admin/admin-server.ts';
import type { InjectorConfig } from './injector/injector-config.ts';
import { type ConfigError, formatConfigError } from './model/config-error.ts';
import { EndpointRegistry } from './registry/endpoint-registry.ts';
import { createFileSource, type FileSource } from './sources/file-source.ts';
import { ChangeClock } from './store/change-clock.ts';
import { ConfigStore } from './store/config-store.ts';
import { createLogger } from './telemetry/logger.ts';
import { startWebhookServer, type WebhookServer } from './webhook/webhook-server.ts';
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
  /** Where the admin API listens (default `host`): it changes config, so keep it private. */
  readonly adminHost?: string | undefined;
  /** The sidecar injection webhook (HTTPS); off when absent. */
  readonly webhook?: WebhookOptions | undefined;
  readonly pushDebounceMs?: number;
  /** How long endpoints restored after a restart wait for their sidecars to reconnect. */
  readonly endpointRestoreGraceMs?: number;
  readonly log?: Logger;
}

export interface WebhookOptions {
  readonly host: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  readonly injector: InjectorConfig;
}

export interface ControlPlane {
  readonly xdsAddress: string;
  readonly adminAddress: string;
  /** https://host:port when the webhook runs. */
  readonly webhookAddress: string | undefined;
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
  const xdsPort = await new Promise<number>((done, fail) =>
    grpcServer.bindAsync(`${options.host}:${options.xdsPort}`, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? fail(new StartupError(`cannot listen for discovery on ${options.host}:${options.xdsPort}: ${error.message}`)) : done(port),
    ),
  );

  let ready = false;
  const admin = createAdminServer({ store, discovery, log, isReady: () => ready, changeId: () => clock.current });
  const adminHost = options.adminHost ?? options.host;
  admin.listen(options.adminPort, adminHost);
  try {
    await once(admin, 'listening');
  } catch (error) {
    grpcServer.forceShutdown();
    throw new StartupError(`cannot listen for the admin API on ${adminHost}:${options.adminPort}: ${(error as Error).message}`);
  }
  const adminPort = (admin.address() as AddressInfo).port;

  let webhook: WebhookServer | undefined;
  if (options.webhook) {
    try {
      webhook = await startWebhook(options.webhook, log, () => ready);
    } catch (error) {
      admin.close();
      grpcServer.forceShutdown();
      throw error;
    }
  }
  ready = true;

  const xdsAddress = `${options.host}:${xdsPort}`;
  const adminAddress = `http://${adminHost}:${adminPort}`;
  const webhookAddress = webhook && options.webhook ? `https://${options.webhook.host}:${webhook.port}` : undefined;
  log.info(
    { xds: xdsAddress, admin: adminAddress, webhook: webhookAddress, dataDir, changeId: store.state.changeId },
    'control plane listening',
  );

  return {
    xdsAddress,
    adminAddress,
    webhookAddress,
    async close() {
      fileSource?.close();
      await webhook?.close();
      discovery.close();
      endpoints.close();
      admin.closeAllConnections();
      await new Promise<void>((done) => admin.close(() => done()));
      await new Promise<void>((done) => grpcServer.tryShutdown(() => done()));
    },
  };
}

async function startWebhook(options: WebhookOptions, log: Logger, isReady: () => boolean): Promise<WebhookServer> {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(options.certFile);
    key = readFileSync(options.keyFile);
  } catch (error) {
    throw new StartupError(`--webhook-cert/--webhook-key: cannot read: ${(error as Error).message}`);
  }
  try {
    return await startWebhookServer({ host: options.host, port: options.port, cert, key, injector: options.injector, log, isReady });
  } catch (error) {
    throw new StartupError(`cannot serve the webhook on ${options.host}:${options.port}: ${(error as Error).message}`);
  }
}

function logRejected(log: Logger, errors: readonly ConfigError[]): void {
  for (const error of errors) log.error({ error: formatConfigError(error) }, 'config rejected; keeping the last good config');
}
