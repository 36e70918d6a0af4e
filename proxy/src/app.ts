// Wires the sidecar: credentials ← identity client, pools → clusters → applied config ←
// discovery client, the inbound, outbound and admin listeners, and telemetry (records
// begun by the listeners, finished by their onOutcome; exported to the control plane).
// Owns startup order (listen, get a certificate, then discover and report) and shutdown
// order.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { create } from '@bufbuild/protobuf';
import { Credentials, formatSpiffeId, parseJoinToken, TrustBundle, type WorkloadIdentity } from '@weft/certs';
import { NodeSchema } from '@weft/proto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createAdminServer } from './admin/admin-server.ts';
import { ClusterManager } from './cluster/cluster-manager.ts';
import { http1LimitsOf, type ProxyOptions } from './config/options.ts';
import type { H2Limits } from './http/h2-server.ts';
import type { RequestOutcome } from './http/request-outcome.ts';
import { checkHandleWrites } from './http1/handle-write.ts';
import { checkParser } from './http1/llhttp.ts';
import { CONTROL_PLANE_CHANNEL_OPTIONS, controlPlaneCredentials } from './identity/control-plane-channel.ts';
import { IdentityClient, type IdentityProof } from './identity/identity-client.ts';
import { readServiceAccountTokenFile } from './identity/service-account-token-file.ts';
import { createInboundServer, type InboundServer } from './inbound/inbound-server.ts';
import { waitForAppExit } from './lifecycle/app-exit.ts';
import { Interception } from './outbound/interception.ts';
import { createOutboundServer } from './outbound/outbound-server.ts';
import { parseUpstreamFlag, TcpListeners } from './outbound/tcp-listeners.ts';
import { TcpProxy } from './tcp/tcp-proxy.ts';
import { TelemetryExporter } from './telemetry/exporter.ts';
import { createLogger, destinationOf } from './telemetry/logger.ts';
import type { PrometheusSources } from './telemetry/prometheus.ts';
import { Telemetry } from './telemetry/telemetry.ts';
import { UpstreamPools } from './upstream/upstream-pools.ts';
import { AppliedConfig } from './xds/applied-config.ts';
import { DiscoveryClient } from './xds/discovery-client.ts';

export const PROXY_VERSION = '0.1.0';
/** The trust domain a sidecar with a service-account token asks in, unless --trust-domain. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

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
  // The HTTP/1.1 codec parses with Node's own llhttp binding and writes to socket handles
  // directly: refuse to start on a Node that changed either.
  checkParser();
  checkHandleWrites();
  const nodeId = options.nodeId ?? `${options.service}-${randomBytes(3).toString('hex')}`;
  const { spiffeId, trustDomain, bundle, proof } = identityFromOptions(options);
  const credentials = new Credentials(bundle);
  const identity = new IdentityClient({
    target: options.controlPlane,
    proof,
    spiffeId,
    trustDomain,
    nodeId,
    credentials,
    log,
    backoff: { baseMs: options.xdsBackoffBaseMs, maxMs: options.xdsBackoffMaxMs },
  });
  const h2Limits: H2Limits = {
    idleTimeoutMs: options.h2IdleTimeoutMs,
    maxConcurrentStreams: options.h2MaxConcurrentStreams,
    initialWindowSize: options.h2InitialWindowSize,
    maxHeaderListSize: options.h2MaxHeaderListSize,
  };
  const telemetry = new Telemetry(
    {
      enabled: options.telemetry === 'on',
      self: { service: options.service, namespace: options.namespace, version: options.labels['version'] ?? '', identity: spiffeId },
      traceSampleRate: options.traceSampleRate,
      accessLog: { target: options.accessLog, sampleRate: options.accessLogSampleRate },
    },
    destinationOf(log),
  );
  const pools = new UpstreamPools({
    connectTimeoutMs: 1000,
    keepAliveTimeoutMs: 60_000,
    credentials,
    h2Limits,
    connectionHeaders: telemetry.connectionHeaders,
  });
  // Opaque TCP: local ports (config and --upstream) and CONNECT, over mTLS.
  const tcpProxy = new TcpProxy(credentials);
  let tcpListeners: TcpListeners | undefined;
  const config = new AppliedConfig(new ClusterManager(pools, log), {
    trustDomain,
    onTrust: (update) => identity.onTrust(update),
    prepareListeners: (specs) => tcpListeners?.prepare(specs),
  });
  // Requests finished, for the idle compaction below (and telemetry's record, when on).
  let finished = 0;
  const onOutcome = telemetry.enabled
    ? (outcome: RequestOutcome) => {
        finished += 1;
        telemetry.onOutcome(outcome);
      }
    : () => {
        finished += 1;
      };

  // The discovery client starts after the listeners; on-demand lookups reach it through this.
  let discovery: DiscoveryClient | undefined;
  let compacted = false;
  const onDemand = options.discovery === 'on-demand' ? (host: string) => discovery?.requestHost(host) : undefined;
  // Connections `weft init` redirects here; harmless (one getsockopt per connection) without it.
  const interception = new Interception({ pools, log });
  const limits = http1LimitsOf(options);
  const outbound = createOutboundServer({
    config,
    log,
    telemetry,
    onOutcome,
    interception,
    limits,
    h2Limits,
    tcp: tcpProxy,
    ...(onDemand ? { onDemand } : {}),
  });
  if (telemetry.enabled) telemetry.tcp.watch(outbound, 'outbound');
  const outboundPort = await listen(outbound, options.outboundHost, options.outboundPort, '--outbound-port');
  tcpListeners = new TcpListeners({
    config,
    proxy: tcpProxy,
    log,
    namespace: options.namespace,
    onDemand,
    watch: telemetry.enabled ? (server) => telemetry.tcp.watch(server, 'outbound') : undefined,
  });
  try {
    await tcpListeners.bindStatic(options.upstreams.map((flag) => parseUpstreamFlag(flag, options.namespace)));
  } catch (error) {
    outbound.close();
    tcpListeners.close();
    throw new ProxyStartupError((error as Error).message);
  }

  let inbound: InboundServer | undefined;
  let inboundPort: number | undefined;
  let app: ReturnType<UpstreamPools['acquire']> | undefined;
  if (options.appPort !== undefined) {
    app = pools.acquire(`127.0.0.1:${options.appPort}`);
    inbound = createInboundServer({ app, policy: () => config.inbound, credentials, log, telemetry, onOutcome, limits, h2Limits });
    // The listening socket: every TCP connection, TLS bytes included, refused ones too.
    if (telemetry.enabled) telemetry.tcp.watch(inbound.listener, 'inbound');
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
    onApplied: () => {
      telemetry.setKnownServices([...config.clusters.all()].map((c) => c.spec));
      if (!compacted && config.ready) {
        compacted = true;
        setImmediate(() => compactHeap(log, 'startup'));
      }
    },
  });
  const exporter = telemetry.enabled
    ? new TelemetryExporter({
        target: options.controlPlane,
        // The same mTLS channel as discovery: the collector takes the caller's identity from it.
        credentials: controlPlaneCredentials(credentials, trustDomain, true),
        channelOptions: CONTROL_PLANE_CHANNEL_OPTIONS,
        node: { id: nodeId, service: options.service, namespace: options.namespace, labels: options.labels, proxyVersion: PROXY_VERSION },
        incarnation: randomBytes(8).toString('hex'),
        requests: telemetry.requests,
        tcp: telemetry.tcp,
        taps: telemetry.taps,
        log,
        flushMs: options.telemetryFlushMs,
        maxBatches: options.telemetryBufferBatches,
        maxSpansPerBatch: 5000,
        backoff: { baseMs: options.xdsBackoffBaseMs, maxMs: options.xdsBackoffMaxMs },
      })
    : undefined;
  telemetry.exporter = exporter;
  // prom-client (and the OpenTelemetry API it pulls in) loads on the first scrape: a sidecar
  // nobody scrapes never pays its memory. Its process metrics count from then on.
  let registry: Promise<Registry> | undefined;
  const createRegistry = async (): Promise<Registry> => {
    const { createPrometheusRegistry } = await import('./telemetry/prometheus.ts');
    return createPrometheusRegistry(metricSources);
  };
  const metrics = (): Promise<Registry> => {
    registry ??= createRegistry();
    return registry;
  };
  const metricSources: PrometheusSources = {
    requests: telemetry.requests,
    tcp: telemetry.tcp,
    counters: {
      weft_telemetry_batches_total: ['Telemetry batches cut for the control plane.', () => exporter?.batches ?? 0],
      weft_telemetry_dropped_batches_total: [
        'Telemetry batches dropped because the control plane was slow or away.',
        () => exporter?.dropped.batches ?? 0,
      ],
      weft_telemetry_dropped_requests_total: ['Requests in dropped telemetry batches.', () => exporter?.dropped.requests ?? 0],
      weft_telemetry_dropped_spans_total: ['Spans dropped before reaching the control plane.', () => exporter?.dropped.spans ?? 0],
      weft_telemetry_buffered_batches: [
        'Telemetry batches waiting for the control plane to acknowledge them.',
        () => exporter?.bufferedBatches ?? 0,
      ],
      weft_telemetry_series_overflow_total: [
        'Requests counted under "overflow" because the series limit was reached.',
        () => telemetry.requests.overflowed,
      ],
      weft_access_log_sampled_out_total: [
        'Requests not written to the access log because of sampling.',
        () => telemetry.accessLogSampledOut,
      ],
    },
  };
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
    metrics,
    setTelemetry: (on) => telemetry.setRecording(on),
    isDraining: () => closing !== undefined,
    shutdown: () => {
      log.info('shutdown requested on the admin port');
      void close();
    },
  });
  const adminPort = await listen(admin, options.adminHost, options.adminPort, '--admin-port');
  // After a burst, V8 keeps the heap it grew (a sidecar that saw a load spike would hold its
  // peak for good): once requests have stopped for a whole check period, one compacting
  // collection gives the memory back. Never while requests flow.
  let seen = 0;
  let busy = false;
  const idleCompaction = setInterval(() => {
    if (finished !== seen) {
      seen = finished;
      busy = true;
    } else if (busy) {
      busy = false;
      compactHeap(log, 'idle after traffic');
    }
  }, IDLE_COMPACTION_CHECK_MS);
  idleCompaction.unref();
  // Discovery and the telemetry stream run over mTLS: they start once this workload has
  // its certificate (requests before that are recorded and wait in the exporter's buffer).
  identity.start();
  identity.firstCertificate.then(() => {
    if (closing) return;
    discovery.start();
    exporter?.start();
  });

  log.info(
    {
      nodeId,
      service: options.service,
      inbound: inboundPort,
      outbound: outboundPort,
      admin: adminPort,
      tcp: Object.fromEntries(tcpListeners.ports),
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
      clearInterval(idleCompaction);
      const outboundClosed = stopAccepting(outbound);
      tcpListeners?.close();
      interception.close();
      await Promise.all([
        finish(outbound, outboundClosed, 5000),
        inbound && inboundClosed ? finish(inbound, inboundClosed, 5000) : undefined,
      ]);
      // After the listeners: the last requests make it into the final batch.
      exporter?.close();
      telemetry.close();
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

/** How often the idle compaction looks whether requests have stopped. */
const IDLE_COMPACTION_CHECK_MS = 5000;

/**
 * One full, compacting collection, when memory grown earlier is no longer needed: right after
 * startup (module code run once, the TLS and key setup, the first config's protobuf: about
 * 10 MB an idle sidecar would otherwise carry for good — V8 has no reason to collect while
 * nothing allocates), and when traffic has stopped after a burst. One pause of 10–100 ms,
 * never while requests flow. Only when gc() is exposed (`weft proxy` starts Node with
 * --expose-gc, cli/bin/weft.js).
 */
function compactHeap(log: Logger, why: string): void {
  const gc = (globalThis as { gc?: (options?: object) => void }).gc;
  if (typeof gc !== 'function') return;
  const before = process.memoryUsage().rss;
  const startedAt = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  log.debug(
    { why, freedMb: Math.round((before - process.memoryUsage().rss) / 2 ** 16) / 16, pauseMs: Math.round(performance.now() - startedAt) },
    'heap compacted',
  );
}

/** The workload identity the flags describe: the token (join or service-account) must be
 * for this service and namespace, and the trust bundle file must hold CA certificates. */
function identityFromOptions(options: ProxyOptions): { spiffeId: string; trustDomain: string; bundle: TrustBundle; proof: IdentityProof } {
  let identity: WorkloadIdentity;
  let proof: IdentityProof;
  if (options.tokenFile !== undefined) {
    const read = readServiceAccountTokenFile(options.tokenFile);
    if (!read.ok) throw new ProxyStartupError(read.error);
    const { namespace, serviceAccount } = read.value;
    if (serviceAccount !== options.service || namespace !== options.namespace) {
      throw new ProxyStartupError(
        `--token-file ${options.tokenFile}: the token is for service account ${serviceAccount} in namespace ${namespace}, but this sidecar is --service ${options.service} --namespace ${options.namespace} (a pod's Weft service is its service account)`,
      );
    }
    identity = { trustDomain: options.trustDomain ?? DEFAULT_TRUST_DOMAIN, namespace, serviceAccount };
    proof = { kind: 'service-account-token', file: options.tokenFile };
  } else {
    const token = parseJoinToken(options.token ?? '');
    if (!token.ok) throw new ProxyStartupError(`--token: ${token.error}`);
    identity = token.token.identity;
    if (identity.serviceAccount !== options.service || identity.namespace !== options.namespace) {
      throw new ProxyStartupError(
        `--token: the token is for service ${identity.serviceAccount} in namespace ${identity.namespace}, but this sidecar is --service ${options.service} --namespace ${options.namespace}`,
      );
    }
    if (options.trustDomain !== undefined && options.trustDomain !== identity.trustDomain) {
      throw new ProxyStartupError(`--trust-domain: ${options.trustDomain}, but the join token is for trust domain ${identity.trustDomain}`);
    }
    proof = { kind: 'join-token', token: options.token ?? '' };
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
  return { spiffeId: formatSpiffeId(identity), trustDomain: identity.trustDomain, bundle: bundle.bundle, proof };
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

/** What shutdown needs of a listener's connections (node:http's Server has the same). */
interface Connections {
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

/** Stops accepting new connections and closes idle ones; settles once all are gone. */
function stopAccepting(server: NetServer & Connections): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeIdleConnections();
  return closed;
}

/** As stopAccepting, for the inbound port, whose TLS listener hands sockets to the codecs. */
function stopAcceptingInbound(inbound: InboundServer): Promise<void> {
  const closed = new Promise<void>((done) => inbound.listener.close(() => done()));
  inbound.closeIdleConnections();
  return closed;
}

/** Lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
async function finish(server: Connections, closed: Promise<void>, graceMs: number): Promise<void> {
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
