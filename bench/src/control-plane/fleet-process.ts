// Entry point of the fleet child process: holds the simulated sidecars and answers the
// bench's commands over the IPC channel. Exits when told to close or when the bench goes.
import type { FleetCommand, FleetReply } from './fleet-messages.ts';
import { SimSidecar } from './sim-sidecar.ts';

const sims: SimSidecar[] = [];
/** The change being awaited and how many sidecars have not ACKed it yet. */
let waiter: { changeId: number; missing: number; done: () => void } | undefined;

const reply = (message: FleetReply) => process.send?.(message);

function onAck(sim: SimSidecar, previousChangeId: number): void {
  if (!waiter || previousChangeId >= waiter.changeId || sim.ackedChangeId < waiter.changeId) return;
  waiter.missing -= 1;
  if (waiter.missing === 0) waiter.done();
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function handle(command: FleetCommand): Promise<void> {
  switch (command.type) {
    case 'connect': {
      const deadline = Date.now() + command.timeoutMs;
      for (let i = 0; i < command.nodes.length; i += command.batch) {
        const batch = command.nodes.slice(i, i + command.batch).map((node) => {
          const credentials = command.credentials[node.service];
          if (!credentials) throw new Error(`no certificate for service ${node.service}`);
          return new SimSidecar(command.target, node, { trustBundlePem: command.trustBundlePem, credentials }, onAck);
        });
        sims.push(...batch);
        await until(() => batch.every((s) => s.synced || s.error), deadline - Date.now());
      }
      await until(() => sims.every((s) => s.synced || s.error), deadline - Date.now());
      const errors = sims.flatMap((s) => (s.error ? [`${s.node.id}: ${s.error}`] : []));
      reply({ type: 'connected', synced: sims.filter((s) => s.synced).length, errors: errors.slice(0, 5) });
      return;
    }
    case 'await-change': {
      const { changeId } = command;
      const missing = sims.filter((s) => s.ackedChangeId < changeId).length;
      if (missing > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, command.timeoutMs);
          waiter = {
            changeId,
            missing,
            done: () => {
              clearTimeout(timer);
              resolve();
            },
          };
        });
        waiter = undefined;
      }
      const acked = sims.filter((s) => s.ackedChangeId >= changeId);
      reply({ type: 'change-acked', changeId, acked: acked.length, lastAckAtMs: Math.max(0, ...acked.map((s) => s.ackedAtMs)) });
      return;
    }
    case 'close': {
      for (const sim of sims) sim.close();
      reply({ type: 'closed' });
      setTimeout(() => process.exit(0), 50);
      return;
    }
  }
}

process.on('message', (command: FleetCommand) => {
  handle(command).catch((error: unknown) => {
    console.error('fleet:', error);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
