// Watches the mesh config file and commits its contents whenever they change. Editors
// save by rename as often as by writing in place, so the directory is watched and the
// file re-read by name; a burst of events is collapsed into one read.
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { formatConfigError } from '../model/config-error.ts';
import { parseMeshYaml } from '../model/parse.ts';
import type { CommitResult, ConfigStore } from '../store/config-store.ts';

export interface FileSource {
  /** Reads and commits the file now. */
  load(): CommitResult;
  close(): void;
}

export function createFileSource(options: { path: string; store: ConfigStore; log: Logger; debounceMs?: number }): FileSource {
  const path = resolve(options.path);
  const log = options.log.child({ component: 'file-source', file: path });
  let lastText: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;

  const load = (): CommitResult => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const message = `cannot read config file: ${(error as Error).message}`;
      return { ok: false, errors: [{ file: options.path, document: 0, path: '', message }] };
    }
    lastText = text;
    const parsed = parseMeshYaml(text, options.path);
    if (!parsed.ok) return parsed;
    return options.store.replaceFileContents(parsed.documents, options.path);
  };

  const reload = () => {
    timer = undefined;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return; // mid-rename; the next event reads it
    }
    if (text === lastText) return;
    const result = load();
    if (result.ok) {
      log.info({ changeId: result.changeId }, 'config file reloaded');
    } else {
      for (const error of result.errors)
        log.error({ error: formatConfigError(error) }, 'config file rejected; keeping the last good config');
    }
  };

  watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
    if (name !== null && name !== basename(path)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, options.debounceMs ?? 100);
  });

  return {
    load,
    close() {
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}
