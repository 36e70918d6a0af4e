// `weft proxy`: runs a sidecar in this process until SIGINT/SIGTERM or POST /shutdown on its
// admin port; then it drains (see Proxy.close) and exits.
import type { Command } from 'commander';
import { collectLabel, runUntilSignal, UserError } from './shared.ts';

export function registerProxy(program: Command): void {
  program
    .command('proxy')
    .description('run a sidecar beside one workload')
    .requiredOption('--service <name>', 'the service this workload belongs to')
    .option('--namespace <name>', 'namespace of the service', 'default')
    .option('-l, --label <key=value>', 'workload label, e.g. version=v2 (repeatable)', collectLabel, {})
    .option('--app-port <port>', 'port of the app on 127.0.0.1; without it the sidecar only sends (no inbound)')
    .option('--control-plane <host:port>', 'control plane discovery address', process.env['WEFT_CONTROL_PLANE'] ?? '127.0.0.1:15010')
    .option('--token <token>', 'join token from `weft token create` (prefer WEFT_TOKEN: arguments show in ps)')
    .option(
      '--token-file <file>',
      'or a Kubernetes service-account token (audience weft) in this file, re-read for every certificate; default WEFT_TOKEN_FILE',
    )
    .option('--trust-domain <domain>', 'with --token-file: the trust domain to ask in (default cluster.local)')
    .option('--trust-bundle <file>', "the control plane's trust bundle (PEM roots); default WEFT_TRUST_BUNDLE")
    .option('--node-id <id>', 'unique id of this sidecar (default: service + random suffix)')
    .option('--inbound-host <address>', 'address of the inbound listener', '0.0.0.0')
    .option('--inbound-port <port>', 'inbound listener port (0 = any free port)', '15006')
    .option('--inbound-address <host:port>', 'address other sidecars use to reach this one (default: derived)')
    .option('--outbound-host <address>', 'address of the outbound listener', '127.0.0.1')
    .option('--outbound-port <port>', 'outbound listener port (0 = any free port)', '15001')
    .option('--admin-host <address>', 'address of the admin listener', '127.0.0.1')
    .option('--admin-port <port>', 'admin port: /ready, /live, /metrics, /config_dump, POST /shutdown', '15020')
    .option('--drain-ms <ms>', 'on shutdown, keep outbound serving up to this long while the app drains (ends once it has exited)', '20000')
    .option(
      '--discovery <mode>',
      'on-demand: receive only the services this one calls (declared in its Service, or learned on first use); all: every service',
      'on-demand',
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error')
    .option('--telemetry <on|off>', 'metrics, traces, access log and the telemetry stream', process.env['WEFT_TELEMETRY'] ?? 'on')
    .option('--trace-sample-rate <0-1>', "share of new traces recorded (callers' decisions are kept)", '0.01')
    .option('--access-log <stdout|off|file>', 'where the access log goes (off by default, as in Envoy and Linkerd)', 'off')
    .option('--access-log-sample-rate <0-1>', 'share of requests written to the access log', '1')
    .option('--telemetry-flush-ms <ms>', 'how often metric deltas and spans go to the control plane', '2000')
    .option('--telemetry-buffer-batches <n>', 'unacknowledged telemetry batches kept while the control plane is away', '150')
    .option('--http1-max-header-bytes <n>', 'HTTP/1.1: request line and headers, bytes (431 beyond)', '61440')
    .option('--http1-max-headers <n>', 'HTTP/1.1: header fields per request (431 beyond)', '100')
    .option('--http1-max-uri-bytes <n>', 'HTTP/1.1: request-target length (414 beyond)', '16384')
    .option('--http1-headers-timeout-ms <ms>', 'HTTP/1.1: time to receive the request headers (408 after)', '30000')
    .option('--http1-idle-timeout-ms <ms>', 'HTTP/1.1: idle keep-alive connections close after this', '75000')
    .option(
      '--http1-stream-idle-timeout-ms <ms>',
      'HTTP/1.1: no byte either way with a request in flight (stalled body: 408); 0: off',
      '300000',
    )
    .option('--http1-max-request-bytes <n>', 'HTTP/1.1: request body size (413 beyond); 0: no limit', '0')
    .option(
      '--upstream <service=host:port>',
      'opaque TCP: open host:port locally for a tcp service, e.g. orders-db=127.0.0.1:15432 (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--h2-idle-timeout-ms <ms>', 'HTTP/2 connections idle this long are closed with GOAWAY (0: never)', '300000')
    .option('--h2-max-concurrent-streams <n>', 'HTTP/2 streams a client may have open on one connection; more are refused', '1000')
    .option('--h2-initial-window-size <bytes>', "HTTP/2 flow-control window of each stream (the connection's is 16 MiB)", '1048576')
    .option('--h2-max-header-list-size <bytes>', 'largest HTTP/2 header block accepted; larger ones are refused', '65536')
    .action(async (opts) => {
      const { parseProxyOptions, startProxy } = await import('@weft/proxy');
      const result = parseProxyOptions({
        service: opts.service,
        namespace: opts.namespace,
        labels: opts.label,
        nodeId: opts.nodeId,
        appPort: opts.appPort,
        controlPlane: opts.controlPlane,
        token: opts.token ?? (opts.tokenFile ? undefined : process.env['WEFT_TOKEN']),
        tokenFile: opts.tokenFile ?? (opts.token || process.env['WEFT_TOKEN'] ? undefined : process.env['WEFT_TOKEN_FILE']),
        trustDomain: opts.trustDomain,
        trustBundle: opts.trustBundle ?? process.env['WEFT_TRUST_BUNDLE'],
        inboundHost: opts.inboundHost,
        inboundPort: opts.inboundPort,
        inboundAddress: opts.inboundAddress,
        outboundHost: opts.outboundHost,
        outboundPort: opts.outboundPort,
        adminHost: opts.adminHost,
        adminPort: opts.adminPort,
        drainMs: opts.drainMs,
        discovery: opts.discovery,
        logLevel: opts.logLevel,
        telemetry: opts.telemetry,
        traceSampleRate: opts.traceSampleRate,
        accessLog: opts.accessLog,
        accessLogSampleRate: opts.accessLogSampleRate,
        telemetryFlushMs: opts.telemetryFlushMs,
        telemetryBufferBatches: opts.telemetryBufferBatches,
        http1MaxHeaderBytes: opts.http1MaxHeaderBytes,
        http1MaxHeaders: opts.http1MaxHeaders,
        http1MaxUriBytes: opts.http1MaxUriBytes,
        http1HeadersTimeoutMs: opts.http1HeadersTimeoutMs,
        http1IdleTimeoutMs: opts.http1IdleTimeoutMs,
        http1StreamIdleTimeoutMs: opts.http1StreamIdleTimeoutMs,
        http1MaxRequestBytes: opts.http1MaxRequestBytes,
        upstreams: opts.upstream,
        h2IdleTimeoutMs: opts.h2IdleTimeoutMs,
        h2MaxConcurrentStreams: opts.h2MaxConcurrentStreams,
        h2InitialWindowSize: opts.h2InitialWindowSize,
        h2MaxHeaderListSize: opts.h2MaxHeaderListSize,
        ...backoffFromEnv(),
      });
      if (!result.ok) throw new UserError('invalid sidecar options', result.errors);
      const drainMs = result.options.drainMs;
      await runUntilSignal(() => startProxy(result.options), drainMs + 10_000);
    });
}

/** Reconnect backoff is tuned by environment only (tests shorten it). */
function backoffFromEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  const base = process.env['WEFT_XDS_BACKOFF_BASE_MS'];
  const max = process.env['WEFT_XDS_BACKOFF_MAX_MS'];
  if (base) out['xdsBackoffBaseMs'] = base;
  if (max) out['xdsBackoffMaxMs'] = max;
  return out;
}
