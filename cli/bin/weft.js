#!/usr/bin/env node
// The `weft` command. Runs the plain-JavaScript bundle in cli/dist (built by `npm ci` and
// before the tests: cli/scripts/build.ts) when it is at least as new as every file it was
// built from; otherwise — no bundle, a source edited since, or WEFT_FROM_SOURCE=1 — it runs
// the TypeScript sources (Node 24 strips the types), saying why when a bundle is stale.
import { NO_BUNDLE, staleBundle } from './stale-bundle.js';

const root = new URL('../../', import.meta.url);

// `weft proxy` starts itself again, once, with settings Node and V8 only take at startup
// (bench/RESULTS.md measures them): semi-spaces of 8 MB instead of up to 16 (a busy
// sidecar's young generation otherwise grows to 48 MB: −30 MB RSS under load), gc()
// exposed (the sidecar compacts once after startup and collects body chunks early), no
// AsyncContextFrame (the sidecar uses no AsyncLocalStorage, and the frame is switched on
// every callback from C++), and glibc limited to two malloc arenas. process.execve keeps
// the PID, stdio and environment; WEFT_SIDECAR_REEXEC=0 (or a Node without execve) runs
// with Node's defaults instead. WEFT_SIDECAR_NODE_FLAGS adds flags of one's own to that
// start (`--perf-basic-prof`, `--trace-gc`, `--inspect=127.0.0.1:0`: some are refused in
// NODE_OPTIONS); WEFT_SIDECAR_REEXECUTED marks the second start, so it happens once.
const SIDECAR_V8_FLAGS = ['--max-semi-space-size=8', '--expose-gc', '--no-async-context-frame'];
const EXTRA_FLAGS = (process.env.WEFT_SIDECAR_NODE_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== '');
if (
  process.argv[2] === 'proxy' &&
  process.env.WEFT_SIDECAR_REEXEC !== '0' &&
  process.env.WEFT_SIDECAR_REEXECUTED !== '1' &&
  typeof process.execve === 'function' &&
  ![...SIDECAR_V8_FLAGS, ...EXTRA_FLAGS].every((flag) => process.execArgv.includes(flag))
) {
  const env = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', WEFT_SIDECAR_REEXECUTED: '1' };
  process.execve(
    process.execPath,
    [process.execPath, ...SIDECAR_V8_FLAGS, ...EXTRA_FLAGS, ...process.execArgv, ...process.argv.slice(1)],
    env,
  );
}
// Not passed on to what the sidecar itself starts.
delete process.env.WEFT_SIDECAR_REEXECUTED;

function freshBundle() {
  if (process.env.WEFT_FROM_SOURCE === '1') return false;
  const stale = staleBundle(root);
  if (stale === undefined) return true;
  // A missing bundle is the sources' normal case (a checkout before its first build): no warning.
  if (stale !== NO_BUNDLE) process.emitWarning(`${stale}: running the TypeScript sources (npm run build refreshes it)`, 'WeftStaleBuild');
  return false;
}

if (freshBundle()) await import('../dist/weft.js');
else await import('../src/main.ts');
