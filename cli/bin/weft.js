#!/usr/bin/env node
// The `weft` command. Runs the plain-JavaScript bundle in cli/dist (built by `npm ci` and
// before the tests: cli/scripts/build.ts) when it is at least as new as every file it was
// built from; otherwise — no bundle, a source edited since, or WEFT_FROM_SOURCE=1 — it runs
// the TypeScript sources (Node 24 strips the types), saying why when a bundle is stale.
import { readFileSync, statSync } from 'node:fs';

const root = new URL('../../', import.meta.url);

function freshBundle() {
  if (process.env.WEFT_FROM_SOURCE === '1') return false;
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('cli/dist/inputs.json', root), 'utf8'));
  } catch {
    return false;
  }
  for (const input of manifest.inputs) {
    let mtimeMs;
    try {
      mtimeMs = statSync(new URL(input, root)).mtimeMs;
    } catch {
      mtimeMs = Number.POSITIVE_INFINITY;
    }
    if (mtimeMs > manifest.builtAtMs) {
      process.emitWarning(`cli/dist is older than ${input}: running the TypeScript sources (npm run build refreshes it)`, 'WeftStaleBuild');
      return false;
    }
  }
  return true;
}

if (freshBundle()) await import('../dist/weft.js');
else await import('../src/main.ts');
