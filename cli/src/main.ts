// The `weft` command line: one binary for the control plane, the sidecar, the local mesh
// and the day-to-day commands. Each subcommand loads only what it needs.
import { Command, CommanderError } from 'commander';
import { AdminError } from './admin-client.ts';
import { registerApply } from './commands/apply.ts';
import { registerCa } from './commands/ca.ts';
import { registerControlPlane } from './commands/control-plane.ts';
import { registerEdges } from './commands/edges.ts';
import { registerInit } from './commands/init.ts';
import { registerInject } from './commands/inject.ts';
import { registerProxy } from './commands/proxy.ts';
import { registerReady } from './commands/ready.ts';
import { UserError } from './commands/shared.ts';
import { registerStat } from './commands/stat.ts';
import { registerStatus } from './commands/status.ts';
import { registerTap } from './commands/tap.ts';
import { registerToken } from './commands/token.ts';
import { registerTrace } from './commands/trace.ts';
import { registerUp } from './commands/up.ts';

const program = new Command('weft').description('Weft: a lightweight service mesh').version('0.1.0').showHelpAfterError().exitOverride();

registerUp(program);
registerControlPlane(program);
registerProxy(program);
registerApply(program);
registerInject(program);
registerInit(program);
registerReady(program);
registerStatus(program);
registerToken(program);
registerCa(program);
registerStat(program);
registerEdges(program);
registerTap(program);
registerTrace(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const details = (error as { details?: readonly string[] }).details ?? [];
  if (error instanceof UserError || error instanceof AdminError || (error as Error).name === 'StartupError') {
    console.error(`weft: ${(error as Error).message}`);
  } else {
    console.error(`weft: ${(error as Error).stack ?? error}`);
  }
  for (const line of details) console.error(`  ${line}`);
  process.exit(1);
}
