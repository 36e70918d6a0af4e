// Wires the sidecar: credentials ← identity client, pools → clusters → applied config ←
// discovery client, and the inbound, outbound and admin listeners. Owns startup order
// (listen, get a certificate, then discover) and shutdown order.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { create } from '@bufbuild/protobuf';
import { Credentials, formatSpiffeId, parseJoinToken, TrustBundle } from '@weft/certs';
import { NodeSchema } from '@weft/proto';
import type { Logger } from 'pino';
import { createAdminServer } from './admin/admin-server.ts';
import { ClusterManager } from './cluster/cluster-manager.ts';
import type { ProxyOptions } from './config/options.ts';
import { CONTROL_PLANE_CHANNEL_OPTIONS, controlPlaneCredentials } from './identity/control-plane-channel.ts';
import { IdentityClient } from './identity/identity-client.ts';
import { createInboundServer, type InboundServer } from './inbound/inbound-server.ts';
import { waitForAppExit } from './lifecycle/app-exit.ts';
import { Interception } from './outbound/interception.ts';
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
  /** Drains and stops: leaves the mesh, serves in-flight work, then closes. */
  close(): Promise<void>;
  /** Settles once the sidecar has stopped, whoever asked (close(), POST /shutdown). */
  readonly closed: Promise<void>;
}

/** A flag or port problem at startup: the CLI prints it and exits 1. */
export class ProxyStartupError extends Error {
  override readonly name = 'StartupError';
}

export async function startProxy(options: ProxyOptions, log: Logger = createLogger({ level: options.logLevel })): Promise<Proxy> {
  const nodeId = options.nodeId ?? `${options.service}-${randomBytes(3).toString('hex')}`;
  const { spiffeId, trustDomain, bundle } = identityFromOptions(options);
  const credentials = new Credentials(bundle);
  const identity = new IdentityClient({
    target: options.controlPlane,
    token: options.token,
    spiffeId,
    trustDomain,
    nodeId,
    credentials,
    log,
    backoff: { baseMs: options.xdsBackoffBaseMs, maxMs: options.xdsBackoffMaxMs },
  });
  const pools = new UpstreamPools({ connectTimeoutMs: 1000, keepAliveTimeoutMs: 60_000, credentials });
  const config = new AppliedConfig(new ClusterManager(pools, log), { trustDomain, onTrust: (update) => identity.onTrust(update) });

  // The discovery client starts after the listeners; on-demand lookups reach it through this.
  let discovery: DiscoveryClient | undefined;
  const onDemand = options.discovery === 'on-demand' ? (host: string) => discovery?.requestHost(host) : undefined;
  // Connections `weft init` redirects here; harmless (one getsockopt per connection) without it.
  const interception = new Interception({ pools, log });
  const outbound = createOutboundServer({ config, log, interception, ...(onDemand ? { onDemand } : {}) });
  const outboundPort = await listen(outbound, options.outboundHost, options.outboundPort, '--outbound-port');

  let inbound: InboundServer | undefined;
  let inboundPort: number | undefined;
  let app: ReturnType<UpstreamPools['acquire']> | undefined;
  if (options.appPort !== undefined) {
    app = pools.acquire(`127.0.0.1:${options.appPort}`);
    inbound = createInboundServer({ app, policy: () => config.inbound, credentials, log });
    inboundPort = await listen(inbound.listener, options.inboundHost, options.inboundPort, '--inbound-port');
  }
  const inboundAddress = options.inboundAddress ?? (inboundPort === undefined ? '' : `${announceHost(options.inboundHost)}:${inboundPort}`);

  const node = create(NodeSchema, {
    id: nodeId,
    service: options.service,
    namespace: options.namespace,
    labels: options.labels,
    inboundAddress,
    proxyVersion: PROXY_VERSION,
    metadata: { discovery: options.discovery },
  });
  discovery = new DiscoveryClient({
    target: options.controlPlane,
    credentials: controlPlaneCredentials(credentials, trustDomain, true),
    channelOptions: CONTROL_PLANE_CHANNEL_OPTIONS,
    node,
    config,
    log,
    backoff: { baseMs: options.xdsBackoffBaseMs, maxMs: options.xdsBackoffMaxMs },
  });
  const nodeFacts = {
    id: nodeId,
    service: options.service,
    namespace: options.namespace,
    labels: options.labels,
    inboundAddress,
    spiffeId,
  };
  let closing: Promise<void> | undefined;
  let stopped: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const admin = createAdminServer({
    config,
    discovery,
    identity: nodeFacts,
    credentials,
    identityClient: identity,
    isDraining: () => closing !== undefined,
    shutdown: () => {
      log.info('shutdown requested on the admin port');
      void close();
    },
  });
  const adminPort = await listen(admin, options.adminHost, options.adminPort, '--admin-port');
  // Discovery runs over mTLS, so it starts once this workload has its certificate.
  identity.start();
  identity.firstCertificate.then(() => {
    if (!closing) discovery.start();
  });

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
      const inboundClosed = inbound ? stopAcceptingInbound(inbound) : undefined;
      // Outbound keeps serving while the app drains: it may still call other services.
      if (options.drainMs > 0) {
        const result = await waitForAppExit({ appPort: options.appPort, outbound }, options.drainMs);
        log.info({ result }, result === 'exited' ? 'app has exited' : 'drain period over');
      }
      identity.close();
      const outboundClosed = stopAccepting(outbound);
      interception.close();
      await Promise.all([
        finish(outbound, outboundClosed, 5000),
        inbound && inboundClosed ? finish(inbound.http, inboundClosed, 5000) : undefined,
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

/** The workload identity the flags describe: the token must be for this service and
 * namespace, and the trust bundle file must hold CA certificates. */
function identityFromOptions(options: ProxyOptions): { spiffeId: string; trustDomain: string; bundle: TrustBundle } {
  const token = parseJoinToken(options.token);
  if (!token.ok) throw new ProxyStartupError(`--token: ${token.error}`);
  const { identity } = token.token;
  if (identity.serviceAccount !== options.service || identity.namespace !== options.namespace) {
    throw new ProxyStartupError(
      `--token: the token is for service ${identity.serviceAccount} in namespace ${identity.namespace}, but this sidecar is --service ${options.service} --namespace ${options.namespace}`,
    );
  }
  let text: string;
  try {
    text = readFileSync(options.trustBundle, 'utf8');
  } catch (error) {
    throw new ProxyStartupError(
      `--trust-bundle ${options.trustBundle}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const bundle = TrustBundle.fromPem(text, `--trust-bundle ${options.trustBundle}`);
  if (!bundle.ok) throw new ProxyStartupError(bundle.error);
  return { spiffeId: formatSpiffeId(identity), trustDomain: identity.trustDomain, bundle: bundle.bundle };
}

async function listen(server: NetServer, host: string, port: number, flag: string): Promise<number> {
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

/** As stopAccepting, for the inbound port, whose TLS listener hands sockets to an HTTP
 * server that never listens itself. */
function stopAcceptingInbound(inbound: InboundServer): Promise<void> {
  const closed = new Promise<void>((done) => inbound.listener.close(() => done()));
  inbound.http.close(() => {}); // stops its timers and closes idle connections; "not running" is expected
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
