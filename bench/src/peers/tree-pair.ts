// The Weft sidecar pair of another checkout (built, with its node_modules), started by that
// checkout's own pair starter, so its CLI and build are the ones that run: how bench/floor
// and bench/ab put two builds in one run.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import type { startWeftPair, WeftPair, WeftPairOptions } from './weft-pair.ts';

export async function startTreeWeftPair(tree: string, processes: OwnedProcesses, options: WeftPairOptions): Promise<WeftPair> {
  const module = (await import(pathToFileURL(join(tree, 'bench/src/peers/weft-pair.ts')).href)) as {
    startWeftPair: typeof startWeftPair;
  };
  return module.startWeftPair(processes, options);
}
