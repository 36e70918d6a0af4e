// Wires the sidecar: pools → clusters → applied config ← discovery client, and the
// inbound, outbound and admin listeners. Owns startup and shutdown order.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { NodeSchema } from '@weft/proto';
import type { Logger } from 'pino';
import { createAdminServer } from './admin/admin-server.ts';
import { ClusterManager } from './cluster/cluster-manager.ts';
import type { ProxyOptions } from './config/options.ts';
import { createInboundServer } from './inbound/inbound-server.ts';
import { createOutboundServer } from './outbound/outbound-server.ts';
import { TelemetryExporter } from './telemetry/exporter.ts';
import { createLogger, destinationOf } from './telemetry/logger.ts';
import { createPrometheusRegistry } from './telemetry/prometheus.ts';
import { Telemetry } from './telemetry/telemetry.ts';
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
}

/** A flag or port problem at startup: the CLI prints it and exits 1. */
export class ProxyStartupError extends Error {
  override readonly name = 'StartupError';
}

export async function startProxy(options: ProxyOptions, log: Logger = createLogger({ level: options.logLevel })): Promise<Proxy> {
  const nodeId = options.nodeId ?? `${options.service}-${randomBytes(3).toString('hex')}`;
  const pools = new UpstreamPools({ connectTimeoutMs: 1000, keepAliveTimeoutMs: 60_000 });
  const config = new AppliedConfig(new ClusterManager(pools));
  const telemetry = new Telemetry(
    {
      enabled: options.telemetry === 'on',
      self: { service: options.service, namespace: options.namespace, version: options.labels['version'] ?? '', identity: '' },
      traceSampleRate: options.traceSampleRate,
      accessLog: { target: options.accessLog, sampleRate: options.accessLogSampleRate },
    },
    destinationOf(log),
  );

  const outbound = createOutboundServer({ config, log, telemetry });
  if (telemetry.enabled) telemetry.tcp.watch(outbound, 'outbound');
  const outboundPort = await listen(outbound, options.outboundHost, options.outboundPort, '--outbound-port');

  let inbound: Server | undefined;
  let inboundPort: number | undefined;
  let app: ReturnType<UpstreamPools['acquire']> | undefined;
  if (options.appPort !== undefined) {
    app = pools.acquire(`127.0.0.1:${options.appPort}`);
    inbound = createInboundServer({ app, log, telemetry });
    if (telemetry.enabled) telemetry.tcp.watch(inbound, 'inbound');
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
    onApplied: () => telemetry.setKnownServices([...config.clusters.all()].map((c) => c.spec)),
  });
  const exporter = telemetry.enabled
    ? new TelemetryExporter({
        target: options.controlPlane,
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
  const metrics = createPrometheusRegistry({
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
  });
  const identity = { id: nodeId, service: options.service, namespace: options.namespace, labels: options.labels, inboundAddress };
  const admin = createAdminServer({ config, discovery, identity, metrics, setTelemetry: (on) => telemetry.setRecording(on) });
  const adminPort = await listen(admin, options.adminHost, options.adminPort, '--admin-port');
  discovery.start();
  exporter?.start();

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

  let closing: Promise<void> | undefined;
  return {
    nodeId,
    inboundPort,
    outboundPort,
    adminPort,
    close() {
      closing ??= (async () => {
        // Leave the mesh first, so the others stop sending here while we still serve.
        discovery.close();
        if (options.drainMs > 0 && inbound) await sleep(options.drainMs);
        await Promise.all([inbound, outbound].map((s) => (s ? closeServer(s, 5000) : undefined)));
        // After the listeners: the last requests make it into the final batch.
        exporter?.close();
        telemetry.close();
        config.clusters.close();
        if (app) pools.release(app);
        await pools.close();
        await closeServer(admin, 0);
        log.info('sidecar stopped');
      })();
      return closing;
    },
  };
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

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
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
