// Whether cli/dist (the esbuild bundle `weft` runs) is older than a file it was built from.
// Plain JavaScript beside weft.js, which reads it before anything else loads; the bench
// asks it too, so that it never measures the TypeScript sources by accident.
import { readFileSync, statSync } from 'node:fs';

/** What staleBundle says when there is no bundle at all (a checkout before its first build). */
export const NO_BUNDLE = 'there is no cli/dist bundle';

/**
 * Why the bundle under `root` (the repository, a file: URL ending in /) is not fresh, or
 * undefined when it is.
 * @param {URL} root
 * @returns {string | undefined}
 */
export function staleBundle(root) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('cli/dist/inputs.json', root), 'utf8'));
  } catch {
    return NO_BUNDLE;
  }
  for (const input of manifest.inputs) {
    let mtimeMs;
    try {
      mtimeMs = statSync(new URL(input, root)).mtimeMs;
    } catch {
      return `${input}, which the bundle was built from, is gone`;
    }
    if (mtimeMs > manifest.builtAtMs) return `${input} changed after the bundle was built`;
  }
  return undefined;
}
