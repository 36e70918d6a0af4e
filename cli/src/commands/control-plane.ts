// `weft control-plane`: runs the control plane in this process until SIGINT/SIGTERM.
import { type Command, InvalidArgumentError } from 'commander';
import { parsePort, runUntilSignal } from './shared.ts';

export function registerControlPlane(program: Command): void {
  program
    .command('control-plane')
    .description('run the control plane: config store, discovery server and admin API')
    .option('-c, --config <file>', 'mesh config (YAML); watched for changes')
    .option('--data-dir <dir>', 'where state is kept', '.weft/control-plane')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--xds-port <port>', 'gRPC discovery port', parsePort, 15010)
    .option('--admin-port <port>', 'HTTP admin API port', parsePort, 15000)
    .option('--push-debounce-ms <ms>', 'wait this long for more changes before pushing', parseNonNegative, 50)
    .option(
      '--endpoint-grace-ms <ms>',
      'after a restart, keep known endpoints this long for their sidecars to return',
      parseNonNegative,
      15_000,
    )
    .option('--otlp-endpoint <url>', 'also send every span to this OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces)')
    .action(async (opts) => {
      const { startControlPlane } = await import('@weft/control-plane');
      await runUntilSignal(() =>
        startControlPlane({
          configPath: opts.config,
          dataDir: opts.dataDir,
          host: opts.host,
          xdsPort: opts.xdsPort,
          adminPort: opts.adminPort,
          pushDebounceMs: opts.pushDebounceMs,
          endpointRestoreGraceMs: opts.endpointGraceMs,
          otlpEndpoint: opts.otlpEndpoint,
        }),
      );
    });
}

function parseNonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
}
