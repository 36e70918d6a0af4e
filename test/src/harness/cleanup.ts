// Everything a test starts is registered here and torn down after the test, even when
// it fails: child processes (stopped by PID), servers, temporary directories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

type Teardown = () => Promise<void> | void;
const teardowns: Teardown[] = [];

export function onCleanup(teardown: Teardown): void {
  teardowns.push(teardown);
}

export function tempDir(prefix = 'weft-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

afterEach(async () => {
  const pending = teardowns.splice(0).reverse();
  for (const teardown of pending) {
    try {
      await teardown();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
  }
});
