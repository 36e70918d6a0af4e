// Vitest global setup for the end-to-end suites: builds the `weft` bundle (cli/dist) first,
// so the processes the tests start run exactly what `npx weft` runs after `npm ci` — and
// never a bundle older than the sources (bin/weft.js would fall back to the sources then).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BUILD = fileURLToPath(new URL('../../../cli/scripts/build.ts', import.meta.url));

export default function setup(): void {
  const built = spawnSync(process.execPath, [BUILD], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building the weft bundle failed:\n${built.stderr}`);
}
