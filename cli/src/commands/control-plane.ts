// `weft control-plane`: runs the control plane in this process until SIGINT/SIGTERM.

import { DEFAULT_INJECTOR_CONFIG } from '@weft/control-plane/injector-config';
import { type Command, InvalidArgumentError } from 'commander';
import { addInjectorFlags, injectorConfigFrom } from './injector-flags.ts';
import { parsePort, runUntilSignal, UserError } from './shared.ts';

export function registerControlPlane(program: Command): void {
  const command = program
    .command('control-plane')
    .description('run the control plane: config store, discovery server and admin API')
    .option('-c, --config <file>', 'mesh config (YAML); watched for changes')
    .option('--data-dir <dir>', 'where state is kept', '.weft/control-plane')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--xds-port <port>', 'gRPC discovery port', parsePort, 15010)
    .option('--admin-port <port>', 'HTTP admin API port', parsePort, 15000)
    .option('--admin-host <address>', 'address of the admin API (default: --host); it changes config, keep it private')
    .option('--push-debounce-ms <ms>', 'wait this long for more changes before pushing', parseNonNegative, 50)
    .option(
      '--endpoint-grace-ms <ms>',
      'after a restart, keep known endpoints this long for their sidecars to return',
      parseNonNegative,
      15_000,
    )
    .option('--webhook-port <port>', 'serve the sidecar injection webhook (HTTPS) on this port', parsePort)
    .option('--webhook-host <address>', 'address of the webhook (default: --host)')
    .option('--webhook-cert <file>', "the webhook's certificate chain (PEM)")
    .option('--webhook-key <file>', "the webhook's private key (PEM)")
    .option('--trust-domain <domain>', 'SPIFFE trust domain of every identity this control plane issues', 'cluster.local')
    .option('--ca-cert <file>', 'operator CA certificate (root or intermediate) that signs workload certificates; watched')
    .option('--ca-key <file>', 'private key of --ca-cert (keep it mode 0600); watched')
    .option('--ca-chain <file>', 'certificates above --ca-cert up to the root, when it is an intermediate; watched')
    .option('--trust-bundle <file>', 'every root workloads should trust (default: the root of the CA); watched, for root rotation')
    .option('--cert-ttl <duration>', 'lifetime of workload certificates, e.g. 24h or 20s', '24h')
    .option('--k8s-issuer <url>', "accept Kubernetes service-account tokens from this issuer (the API server's --service-account-issuer)")
    .option('--k8s-jwks-url <url>', "the issuer's public keys (JWKS), e.g. https://kubernetes.default.svc/openid/v1/jwks")
    .option('--k8s-jwks-file <file>', 'or the public keys in a file, for clusters without issuer discovery; watched')
    .option('--k8s-jwks-ca <file>', 'PEM roots for the JWKS server (in a pod: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)')
    .option(
      '--k8s-jwks-token-file <file>',
      'bearer token for the JWKS request, re-read each time (in a pod: its own service-account token)',
    )
    .option('--k8s-audience <audience>', 'the audience service-account tokens must carry', 'weft')
    .option('--otlp-endpoint <url>', 'also send every span to this OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces)');
  addInjectorFlags(command, DEFAULT_INJECTOR_CONFIG).action(async (opts) => {
    const { startControlPlane, parseDurationMs } = await import('@weft/control-plane');
    const certTtlMs = parseDurationMs(opts.certTtl);
    if (certTtlMs === undefined || certTtlMs < 5000) {
      throw new UserError(`--cert-ttl: "${opts.certTtl}" must be a duration of at least 5s, like 24h`);
    }
    let webhook: import('@weft/control-plane').WebhookOptions | undefined;
    if (opts.webhookPort !== undefined) {
      if (!opts.webhookCert || !opts.webhookKey) throw new UserError('--webhook-port needs --webhook-cert and --webhook-key');
      webhook = {
        host: opts.webhookHost ?? opts.host,
        port: opts.webhookPort,
        certFile: opts.webhookCert,
        keyFile: opts.webhookKey,
        injector: injectorConfigFrom(opts, DEFAULT_INJECTOR_CONFIG),
      };
    }
    await runUntilSignal(() =>
      startControlPlane({
        configPath: opts.config,
        dataDir: opts.dataDir,
        host: opts.host,
        xdsPort: opts.xdsPort,
        adminPort: opts.adminPort,
        adminHost: opts.adminHost,
        webhook,
        pushDebounceMs: opts.pushDebounceMs,
        endpointRestoreGraceMs: opts.endpointGraceMs,
        trustDomain: opts.trustDomain,
        ca: { caCert: opts.caCert, caKey: opts.caKey, caChain: opts.caChain, trustBundle: opts.trustBundle },
        certTtlMs,
        otlpEndpoint: opts.otlpEndpoint,
        kubernetes: {
          issuer: opts.k8sIssuer,
          audience: opts.k8sAudience,
          jwksUrl: opts.k8sJwksUrl,
          jwksFile: opts.k8sJwksFile,
          jwksCaFile: opts.k8sJwksCa,
          jwksTokenFile: opts.k8sJwksTokenFile,
        },
      }),
    );
  });
}

function parseNonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
}
