// staleBundle (cli/bin/stale-bundle.js: weft.js and the bench's ensureFreshBundle use it)
// against a repository laid out in a temporary directory: a bundle is fresh only when every
// file it was built from is older than it, and present.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NO_BUNDLE, staleBundle } from '@weft/cli/stale-bundle';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bundle-'));
  dirs.push(dir);
  return dir;
}

function repository(builtAtMs: number, inputs: Record<string, number>): URL {
  const dir = tempDir();
  mkdirSync(join(dir, 'cli', 'dist'), { recursive: true });
  for (const [name, mtimeMs] of Object.entries(inputs)) {
    writeFileSync(join(dir, name), '//');
    utimesSync(join(dir, name), mtimeMs / 1000, mtimeMs / 1000);
  }
  writeFileSync(join(dir, 'cli', 'dist', 'inputs.json'), JSON.stringify({ builtAtMs, inputs: Object.keys(inputs) }));
  return pathToFileURL(`${dir}/`);
}

describe('staleBundle', () => {
  it('is fresh when every input is older than the build, and names the first one that is not', () => {
    expect(staleBundle(repository(2_000_000, { 'a.ts': 1_000_000, 'b.ts': 1_500_000 }))).toBeUndefined();
    expect(staleBundle(repository(2_000_000, { 'a.ts': 1_000_000, 'b.ts': 3_000_000 }))).toBe('b.ts changed after the bundle was built');
  });

  it('is stale without a bundle, or when an input is gone', () => {
    expect(staleBundle(pathToFileURL(`${tempDir()}/`))).toBe(NO_BUNDLE);
    const root = repository(2_000_000, { 'a.ts': 1_000_000 });
    rmSync(new URL('a.ts', root));
    expect(staleBundle(root)).toBe('a.ts, which the bundle was built from, is gone');
  });
});
