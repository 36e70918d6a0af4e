// Wires the sidecar: pools → clusters → applied config ← discovery client, and the
// inbound, outbound and admin listeners. Owns startup and shutdown order.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { create } from '@bufbuild/protobuf';
import { NodeSchema } from '@weft/proto';
import type { Logger } from 'pino';
import { createAdminServer } from './admin/admin-server.ts';
import { ClusterManager } from './cluster/cluster-manager.ts';
import type { ProxyOptions } from './config/options.ts';
import { createInboundServer } from './inbound/inbound-server.ts';
import { waitForAppExit } from './lifecycle/app-exit.ts';
import { createOutboundServer } from './outbound/outbound-server.ts';
import { createLogger } from './telemetry/logger.ts';
import { UpstreamPools } from './upstream/upstream-pools.ts';
import { AppliedConfig } from './xds/applied-config.ts';
import { DiscoveryClient } from './xds/discovery-client.ts';

export const PROXY_VERSION = '0.1.0';

export interface Proxy {
  readonly nodeId: string;
  readonly inboundPort: number | undefined;
  readonly outboundPort: number;
  readonly adminPort: number;
  /** Drains and stops (SIGTERM, POST /shutdown): leaves the mesh, stops accepting inbound,
   * keeps outbound serving until the app has exited or `drainMs` has passed, then closes. */
  close(): Promise<void>;
  /** Settles once the sidecar has stopped, however the stop began. */
  readonly closed: Promise<void>;
}

/** A flag or port problem at startup: the CLI prints it and exits 1. */
export class ProxyStartupError extends Error {
  override readonly name = 'StartupError';
}

export async function startProxy(options: ProxyOptions, log: Logger = createLogger({ level: options.logLevel })): Promise<Proxy> {
  const nodeId = options.nodeId ?? `${options.service}-${randomBytes(3).toString('hex')}`;
  const pools = new UpstreamPools({ connectTimeoutMs: 1000, keepAliveTimeoutMs: 60_000 });
  const config = new AppliedConfig(new ClusterManager(pools));

  const outbound = createOutboundServer({ config, log });
  const outboundPort = await listen(outbound, options.outboundHost, options.outboundPort, '--outbound-port');

  let inbound: Server | undefined;
  let inboundPort: number | undefined;
  let app: ReturnType<UpstreamPools['acquire']> | undefined;
  if (options.appPort !== undefined) {
    app = pools.acquire(`127.0.0.1:${options.appPort}`);
    inbound = createInboundServer({ app, log });
    inboundPort = await listen(inbound, options.inboundHost, options.inboundPort, '--inbound-port');
  }
  const inboundAddress = options.inboundAddress ?? (inboundPort === undefined ? '' : `${announceHost(options.inboundHost)}:${inboundPort}`);

  const node = create(NodeSchema, {
    id: nodeId,
    service: options.service,
    namespace: options.namespace,
    labels: options.labels,
    inboundAddress,
    proxyVersion: PROXY_VERSION,
  });
  const discovery = new DiscoveryClient({
    target: options.controlPlane,
    node,
    config,
    log,
    backoff: { baseMs: options.xdsBackoffBaseMs, maxMs: options.xdsBackoffMaxMs },
  });
  const identity = { id: nodeId, service: options.service, namespace: options.namespace, labels: options.labels, inboundAddress };
  let closing: Promise<void> | undefined;
  let stopped: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const admin = createAdminServer({
    config,
    discovery,
    identity,
    isDraining: () => closing !== undefined,
    shutdown: () => {
      log.info('shutdown requested on the admin port');
      void close();
    },
  });
  const adminPort = await listen(admin, options.adminHost, options.adminPort, '--admin-port');
  discovery.start();

  log.info(
    {
      nodeId,
      service: options.service,
      inbound: inboundPort,
      outbound: outboundPort,
      admin: adminPort,
      inboundAddress,
      controlPlane: options.controlPlane,
    },
    'sidecar listening',
  );

  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info({ drainMs: options.drainMs }, 'sidecar draining');
      // Leave the mesh first, so the others stop sending here, and take no new inbound
      // connections; requests in flight finish.
      discovery.close();
      const inboundClosed = inbound ? stopAccepting(inbound) : undefined;
      // Outbound keeps serving while the app drains: it may still call other services.
      if (options.drainMs > 0) {
        const result = await waitForAppExit({ appPort: options.appPort, outbound }, options.drainMs);
        log.info({ result }, result === 'exited' ? 'app has exited' : 'drain period over');
      }
      const outboundClosed = stopAccepting(outbound);
      await Promise.all([
        finish(outbound, outboundClosed, 5000),
        inbound && inboundClosed ? finish(inbound, inboundClosed, 5000) : undefined,
      ]);
      config.clusters.close();
      if (app) pools.release(app);
      await pools.close();
      await finish(admin, stopAccepting(admin), 0);
      log.info('sidecar stopped');
      stopped();
    })();
    return closing;
  };

  return { nodeId, inboundPort, outboundPort, adminPort, close, closed };
}

async function listen(server: Server, host: string, port: number, flag: string): Promise<number> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    throw new ProxyStartupError(`${flag}: cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  return (server.address() as AddressInfo).port;
}

/** Stops accepting new connections and closes idle ones; settles once all are gone. */
function stopAccepting(server: Server): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeIdleConnections();
  return closed;
}

/** Lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
async function finish(server: Server, closed: Promise<void>, graceMs: number): Promise<void> {
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}

/** The address other sidecars use: the bind address, or this host's first external IPv4. */
function announceHost(bindHost: string): string {
  if (bindHost !== '0.0.0.0' && bindHost !== '::') return bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
