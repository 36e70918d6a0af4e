// The sidecar's startup options, validated once at the edge. Errors name the flag so
// `weft proxy` can print exactly what to fix; a bad option is a startup error (exit 1).
import { z } from 'zod';
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from '../http1/limits.ts';

const port = z.coerce.number().int().min(0).max(65535);
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits, "-")');

const schema = z.strictObject({
  service: dnsLabel,
  namespace: dnsLabel.default('default'),
  labels: z.record(z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_./]*$/, 'invalid label key'), z.string()).default({}),
  nodeId: z.string().min(1).max(253).optional(),
  appPort: z.coerce.number().int().min(1).max(65535).optional(),
  controlPlane: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port'),
  // One of token and tokenFile (checked in parseProxyOptions): a join token, or a file the
  // kubelet keeps a Kubernetes service-account token in.
  token: z.string().min(1, 'must not be empty').optional(),
  tokenFile: z.string().min(1, 'must not be empty').optional(),
  // With tokenFile: the trust domain to ask in (a join token names its own).
  trustDomain: z
    .string()
    .regex(/^[a-z0-9._-]{1,255}$/, 'must be lower-case letters, digits, ".", "-" or "_"')
    .optional(),
  trustBundle: z.string({ error: "required: the control plane's trust bundle file (or set WEFT_TRUST_BUNDLE)" }).min(1),
  inboundHost: z.string().default('0.0.0.0'),
  inboundPort: port.default(15006),
  inboundAddress: z
    .string()
    .regex(/^[^\s]+:\d{1,5}$/, 'must be host:port')
    .optional(),
  outboundHost: z.string().default('127.0.0.1'),
  outboundPort: port.default(15001),
  adminHost: z.string().default('127.0.0.1'),
  adminPort: port.default(15020),
  // On SIGTERM: the longest outbound keeps serving while the app drains (ends once it has exited).
  drainMs: z.coerce.number().int().min(0).max(300_000).default(20_000),
  xdsBackoffBaseMs: z.coerce.number().int().min(1).default(200),
  xdsBackoffMaxMs: z.coerce.number().int().min(1).default(5000),
  discovery: z.enum(['on-demand', 'all']).default('on-demand'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  telemetry: z.enum(['on', 'off']).default('on'),
  traceSampleRate: z.coerce.number().min(0).max(1).default(0.01),
  // Off by default, as in Envoy (no access_log unless configured), Istio's default profile
  // and Linkerd: a line per request costs a few µs of CPU per hop (docs/config.md).
  accessLog: z.string().min(1).default('off'),
  accessLogSampleRate: z.coerce.number().min(0).max(1).default(1),
  telemetryFlushMs: z.coerce.number().int().min(50).max(60_000).default(2000),
  telemetryBufferBatches: z.coerce.number().int().min(1).max(100_000).default(150),
  // HTTP/1.1 limits on the outbound and inbound listeners (http/http1-limits.ts has the defaults).
  http1MaxHeaderBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(DEFAULT_HTTP1_LIMITS.maxHeaderBytes),
  http1MaxHeaders: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_HTTP1_LIMITS.maxHeaders),
  http1MaxUriBytes: z.coerce
    .number()
    .int()
    .min(64)
    .max(1024 * 1024)
    .default(DEFAULT_HTTP1_LIMITS.maxUriBytes),
  http1HeadersTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(DEFAULT_HTTP1_LIMITS.headersTimeoutMs),
  http1IdleTimeoutMs: z.coerce.number().int().min(100).max(3_600_000).default(DEFAULT_HTTP1_LIMITS.idleTimeoutMs),
  http1StreamIdleTimeoutMs: z.coerce.number().int().min(0).max(86_400_000).default(DEFAULT_HTTP1_LIMITS.streamIdleTimeoutMs),
  http1MaxRequestBytes: z.coerce.number().int().min(0).default(DEFAULT_HTTP1_LIMITS.maxRequestBytes),
  // Opaque TCP: local ports for tcp services, as name[.namespace]=host:port.
  upstreams: z
    .array(
      z
        .string()
        .regex(
          /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)?=[^\s:]+:\d{1,5}$/,
          'must be service[.namespace]=host:port',
        ),
    )
    .default([]),
  // HTTP/2 on both listeners and to upstreams (http/h2-server.ts has the defaults' reasons).
  h2IdleTimeoutMs: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  h2MaxConcurrentStreams: z.coerce.number().int().min(1).max(2_147_483_647).default(1000),
  h2InitialWindowSize: z.coerce
    .number()
    .int()
    .min(65_535)
    .max(2 ** 31 - 1)
    .default(1 << 20),
  h2MaxHeaderListSize: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 << 20)
    .default(64 * 1024),
});

export type ProxyOptions = z.output<typeof schema>;
export type ProxyOptionsInput = z.input<typeof schema>;

/** Flag names as the CLI spells them, for error messages. */
const FLAG: Record<string, string> = {
  service: '--service',
  namespace: '--namespace',
  labels: '--label',
  nodeId: '--node-id',
  appPort: '--app-port',
  controlPlane: '--control-plane',
  token: '--token',
  tokenFile: '--token-file',
  trustDomain: '--trust-domain',
  trustBundle: '--trust-bundle',
  inboundHost: '--inbound-host',
  inboundPort: '--inbound-port',
  inboundAddress: '--inbound-address',
  outboundHost: '--outbound-host',
  outboundPort: '--outbound-port',
  adminHost: '--admin-host',
  adminPort: '--admin-port',
  drainMs: '--drain-ms',
  xdsBackoffBaseMs: '--xds-backoff-base-ms',
  xdsBackoffMaxMs: '--xds-backoff-max-ms',
  discovery: '--discovery',
  logLevel: '--log-level',
  telemetry: '--telemetry',
  traceSampleRate: '--trace-sample-rate',
  accessLog: '--access-log',
  accessLogSampleRate: '--access-log-sample-rate',
  telemetryFlushMs: '--telemetry-flush-ms',
  telemetryBufferBatches: '--telemetry-buffer-batches',
  http1MaxHeaderBytes: '--http1-max-header-bytes',
  http1MaxHeaders: '--http1-max-headers',
  http1MaxUriBytes: '--http1-max-uri-bytes',
  http1HeadersTimeoutMs: '--http1-headers-timeout-ms',
  http1IdleTimeoutMs: '--http1-idle-timeout-ms',
  http1StreamIdleTimeoutMs: '--http1-stream-idle-timeout-ms',
  http1MaxRequestBytes: '--http1-max-request-bytes',
  upstreams: '--upstream',
  h2IdleTimeoutMs: '--h2-idle-timeout-ms',
  h2MaxConcurrentStreams: '--h2-max-concurrent-streams',
  h2InitialWindowSize: '--h2-initial-window-size',
  h2MaxHeaderListSize: '--h2-max-header-list-size',
};

export type OptionsResult = { ok: true; options: ProxyOptions } | { ok: false; errors: string[] };

export function parseProxyOptions(input: unknown): OptionsResult {
  const parsed = schema.safeParse(input);
  if (parsed.success) {
    const { token, tokenFile } = parsed.data;
    if (token === undefined && tokenFile === undefined) {
      return {
        ok: false,
        errors: [
          '--token: required: a join token from `weft token create` (or set WEFT_TOKEN), or --token-file with a Kubernetes service-account token',
        ],
      };
    }
    if (token !== undefined && tokenFile !== undefined)
      return { ok: false, errors: ['--token-file: give --token (WEFT_TOKEN) or --token-file, not both'] };
    return { ok: true, options: parsed.data };
  }
  return {
    ok: false,
    errors: parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const flag = FLAG[key] ?? key;
      return `${flag}${issue.path.length > 1 ? ` ${issue.path.slice(1).join('.')}` : ''}: ${issue.message}`;
    }),
  };
}

/** The HTTP/1.1 limits the flags set. */
export function http1LimitsOf(options: ProxyOptions): Http1Limits {
  return {
    maxHeaderBytes: options.http1MaxHeaderBytes,
    maxHeaders: options.http1MaxHeaders,
    maxUriBytes: options.http1MaxUriBytes,
    headersTimeoutMs: options.http1HeadersTimeoutMs,
    idleTimeoutMs: options.http1IdleTimeoutMs,
    streamIdleTimeoutMs: options.http1StreamIdleTimeoutMs,
    maxRequestBytes: options.http1MaxRequestBytes,
  };
}
