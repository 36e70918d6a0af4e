// `weft ready`: exits 0 when the sidecar on this host is ready (its admin /ready answers 200),
// else 1. With --wait-ms it polls until ready or the time is up: systemd's ExecStartPost and
// compose healthchecks use it to hold an app until its sidecar can route.
import type { Command } from 'commander';
import { parsePort, UserError } from './shared.ts';

export function registerReady(program: Command): void {
  program
    .command('ready')
    .description("check that this host's sidecar is ready (exit 0) or not (exit 1)")
    .option('--admin-port <port>', "the sidecar's admin port", parsePort, 15020)
    .option('--wait-ms <ms>', 'keep checking this long before giving up', '0')
    .action(async (opts: { adminPort: number; waitMs: string }) => {
      const waitMs = Number(opts.waitMs);
      if (!Number.isInteger(waitMs) || waitMs < 0) throw new UserError('--wait-ms must be a whole number ≥ 0');
      const url = `http://127.0.0.1:${opts.adminPort}/ready`;
      const deadline = Date.now() + waitMs;
      for (;;) {
        const status = await fetch(url, { signal: AbortSignal.timeout(1000) })
          .then((r) => r.status)
          .catch(() => 0);
        if (status === 200) return;
        if (Date.now() >= deadline) throw new UserError(`sidecar not ready (${url}: ${status === 0 ? 'no answer' : status})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });
}
