// `weft ca init|bundle`: the control plane's certificate authority. `init` creates the
// self-managed root in a data directory before the control plane first runs; `bundle`
// prints the trust bundle sidecars need (`weft proxy --trust-bundle`).
import { Command } from 'commander';
import { adminRequest, DEFAULT_SERVER } from '../admin-client.ts';

export function registerCa(program: Command): void {
  const ca = new Command('ca').description("the control plane's certificate authority");

  ca.command('init')
    .description('create the self-signed root in a data directory (if missing) and write its trust bundle')
    .requiredOption('--data-dir <dir>', "the control plane's data directory")
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .action(async (opts) => {
      const { initCa } = await import('@weft/control-plane');
      const result = initCa(opts.dataDir, opts.trustDomain);
      console.error(`${result.created ? 'created a root CA' : 'the root CA exists'}; trust bundle: ${result.bundlePath}`);
      console.log(result.bundlePath);
    });

  ca.command('bundle')
    .description('print the trust bundle (PEM) sidecars verify the mesh with')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (opts) => {
      const info = await adminRequest<{ bundlePem: string }>(opts.server, '/api/ca');
      process.stdout.write(info.bundlePem);
    });

  program.addCommand(ca);
}
