// The bench measures `weft` as users run it: the esbuild bundle in cli/dist. A bundle older
// than any of its sources makes the CLI run the TypeScript sources instead (cli/bin/weft.js),
// which a sidecar only says in its own log, and which is a different program to measure
// (about 25 MB more RSS per sidecar). So before the first Weft process starts, a stale or
// missing bundle is rebuilt, and the bench stops if it still is not fresh.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { staleBundle } from '@weft/cli/stale-bundle';

const REPOSITORY = new URL('../../../', import.meta.url);
let checked = false;

/** Rebuilds cli/dist when it is stale (checked once per bench process); throws if that fails. */
export function ensureFreshBundle(): void {
  if (checked) return;
  const stale = staleBundle(REPOSITORY);
  if (stale !== undefined) {
    console.error(`bench: rebuilding cli/dist (${stale})`);
    execFileSync(process.execPath, [fileURLToPath(new URL('cli/scripts/build.ts', REPOSITORY))], {
      cwd: fileURLToPath(REPOSITORY),
      stdio: 'inherit',
    });
    const still = staleBundle(REPOSITORY);
    if (still !== undefined) throw new Error(`cli/dist is still not fresh after a rebuild: ${still}`);
  }
  checked = true;
}
