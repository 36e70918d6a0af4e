// A separate bench's scratch directory and the processes it starts (bench/floor, bench/ab):
// stopped and removed when the run ends, and on Ctrl-C or SIGTERM too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OwnedProcesses } from './owned-processes.ts';

export interface RunScope {
  readonly dir: string;
  readonly processes: OwnedProcesses;
  /** Stops every process started through `processes` and removes `dir`. */
  close(): Promise<void>;
}

export function openRunScope(prefix: string): RunScope {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const processes = new OwnedProcesses();
  const close = async (): Promise<void> => {
    await processes.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void close().finally(() => process.exit(130));
    });
  }
  return { dir, processes, close };
}
