// Small JSON state files in the data directory, written atomically (temp file + rename)
// with mode 0600 so a crash never leaves half a file and other users cannot read them.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function writeStateFile(dataDir: string, name: string, value: unknown): void {
  writeFileAtomic(join(dataDir, name), `${JSON.stringify(value, null, 2)}\n`, 0o600);
}

/** Writes text through a temp file and a rename; the directory is created mode 0700. */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode });
  chmodSync(temp, mode); // the umask may have narrowed or, for 0644, widened nothing; be exact
  renameSync(temp, path);
}

/** The parsed file, or undefined when it does not exist yet. Throws on a corrupt file. */
export function readStateFile<T>(dataDir: string, name: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as T;
}
