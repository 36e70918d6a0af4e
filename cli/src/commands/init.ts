// `weft init`: redirects the workload's TCP to its sidecar (iptables, nft backend) in the
// current network namespace, or with --uninstall removes exactly what it added. Run as
// root: on Kubernetes it is the injected weft-init container's command.
import type { Command } from 'commander';
import { UserError } from './shared.ts';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description("redirect this network namespace's TCP to the sidecar (iptables, nft backend); --uninstall removes it")
    .option('--proxy-uid <uid>', "the sidecar's uid: its own traffic is never redirected", '2102')
    .option('--inbound-port <port>', "the sidecar's inbound listener", '15006')
    .option('--outbound-port <port>', "the sidecar's outbound listener", '15001')
    .option('--capture-inbound-ports <ports>', "the app's ports, e.g. 8080 or 8080,9000-9010: inbound TCP to them goes to the sidecar")
    .option('--exclude-inbound-ports <ports>', 'inbound ports left alone')
    .option('--exclude-outbound-ports <ports>', "destination ports left alone (the control plane's, a database's…)")
    .option('--uninstall', 'remove the rules weft init added, and nothing else')
    .option('--dry-run', 'print the rules (iptables-restore input) instead of installing them')
    .action(async (opts) => {
      const { describePlan, installInterception, interceptionTransaction, parseInitFlags, uninstallInterception } = await import(
        '@weft/proxy/init'
      );
      if (opts.uninstall) {
        const removed = await uninstallInterception();
        if (!removed.ok) throw new UserError(removed.error);
        for (const line of removed.summary) console.log(`weft init: ${line}`);
        return;
      }
      const parsed = parseInitFlags({
        proxyUid: opts.proxyUid,
        inboundPort: opts.inboundPort,
        outboundPort: opts.outboundPort,
        captureInboundPorts: opts.captureInboundPorts,
        excludeInboundPorts: opts.excludeInboundPorts,
        excludeOutboundPorts: opts.excludeOutboundPorts,
      });
      if (!parsed.ok) throw new UserError('invalid interception options', parsed.errors);
      if (opts.dryRun) {
        process.stdout.write(interceptionTransaction(parsed.plan));
        return;
      }
      const installed = await installInterception(parsed.plan);
      if (!installed.ok) throw new UserError(installed.error);
      console.log('weft init: interception installed (iptables, nat table, chains WEFT_*)');
      for (const line of describePlan(parsed.plan)) console.log(`  ${line}`);
    });
}
