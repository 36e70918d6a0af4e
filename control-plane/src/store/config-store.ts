// The desired mesh configuration, versioned by change id. A change set is validated
// against the state it would produce and committed whole or not at all; the last good
// state is persisted so a restarted control plane serves it again.
import type { Logger } from 'pino';
import type { ConfigError } from '../model/config-error.ts';
import type { ParsedDocument } from '../model/parse.ts';
import { type MeshResource, type ResourceKey, resourceKey } from '../model/resources.ts';
import { type Origin, validateMesh } from '../model/validate.ts';
import type { ChangeClock } from './change-clock.ts';
import { readStateFile, writeStateFile } from './persisted-file.ts';

export interface StoredResource {
  readonly resource: MeshResource;
  readonly origin: Origin;
  /** Where it came from: the watched config file, or `weft apply`. */
  readonly source: 'file' | 'api';
}

export interface ConfigState {
  /** The change id of the last commit to this store. */
  readonly changeId: number;
  readonly resources: ReadonlyMap<ResourceKey, StoredResource>;
}

export type CommitResult =
  | { ok: true; changeId: number; created: ResourceKey[]; updated: ResourceKey[]; deleted: ResourceKey[]; unchanged: ResourceKey[] }
  | { ok: false; errors: ConfigError[] };

interface PersistedConfig {
  changeId: number;
  resources: StoredResource[];
}

const STATE_FILE = 'config.json';

export class ConfigStore {
  #state: ConfigState = { changeId: 0, resources: new Map() };
  readonly #listeners = new Set<(state: ConfigState) => void>();
  readonly #clock: ChangeClock;
  readonly #dataDir: string;
  readonly #log: Logger;

  constructor(options: { clock: ChangeClock; dataDir: string; log: Logger }) {
    this.#clock = options.clock;
    this.#dataDir = options.dataDir;
    this.#log = options.log;
    const persisted = readStateFile<PersistedConfig>(this.#dataDir, STATE_FILE);
    if (persisted) {
      this.#state = {
        changeId: persisted.changeId,
        resources: new Map(persisted.resources.map((r) => [resourceKey(r.resource), r])),
      };
      this.#clock.advanceTo(persisted.changeId);
    }
  }

  get state(): ConfigState {
    return this.#state;
  }

  /** True when state was restored from the data directory. */
  get restored(): boolean {
    return this.#state.changeId > 0;
  }

  onChange(listener: (state: ConfigState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** `weft apply`: create or update these resources, leave every other one alone. */
  apply(documents: readonly ParsedDocument[], file: string): CommitResult {
    return this.#commit(documents, file, 'api', () => false);
  }

  /** `weft delete`: remove these resources (by kind, namespace and name). */
  delete(keys: readonly ResourceKey[]): CommitResult {
    const next = new Map(this.#state.resources);
    const deleted = keys.filter((key) => next.delete(key));
    return this.#finish(
      next,
      [],
      [],
      deleted,
      keys.filter((k) => !deleted.includes(k)),
    );
  }

  /** The watched file changed: it now holds exactly these documents. Resources the file
   * no longer lists are deleted, unless `weft apply` has since taken them over. */
  replaceFileContents(documents: readonly ParsedDocument[], file: string): CommitResult {
    const listed = new Set(documents.map((d) => resourceKey(d.resource)));
    return this.#commit(documents, file, 'file', (key, stored) => stored.source === 'file' && !listed.has(key));
  }

  #commit(
    documents: readonly ParsedDocument[],
    file: string,
    source: StoredResource['source'],
    shouldDelete: (key: ResourceKey, stored: StoredResource) => boolean,
  ): CommitResult {
    const next = new Map(this.#state.resources);
    const created: ResourceKey[] = [];
    const updated: ResourceKey[] = [];
    const unchanged: ResourceKey[] = [];
    const deleted: ResourceKey[] = [];
    for (const [key, stored] of this.#state.resources) {
      if (shouldDelete(key, stored)) {
        next.delete(key);
        deleted.push(key);
      }
    }
    const seen = new Set<ResourceKey>();
    const duplicateErrors: ConfigError[] = [];
    for (const { resource, document } of documents) {
      const key = resourceKey(resource);
      if (seen.has(key)) {
        duplicateErrors.push({ file, document, resource: key, path: 'metadata.name', message: 'defined twice in this file' });
        continue;
      }
      seen.add(key);
      const previous = this.#state.resources.get(key);
      next.set(key, { resource, origin: { file, document }, source });
      if (!previous) created.push(key);
      else if (JSON.stringify(previous.resource) === JSON.stringify(resource)) unchanged.push(key);
      else updated.push(key);
    }
    if (duplicateErrors.length > 0) return { ok: false, errors: duplicateErrors };
    return this.#finish(next, created, updated, deleted, unchanged);
  }

  #finish(
    next: Map<ResourceKey, StoredResource>,
    created: ResourceKey[],
    updated: ResourceKey[],
    deleted: ResourceKey[],
    unchanged: ResourceKey[],
  ): CommitResult {
    const errors = validateMesh(
      [...next.values()].map((s) => s.resource),
      (resource) => next.get(resourceKey(resource))?.origin ?? { file: '', document: 0 },
    );
    if (errors.length > 0) return { ok: false, errors };
    if (created.length + updated.length + deleted.length === 0) {
      return { ok: true, changeId: this.#state.changeId, created, updated, deleted, unchanged };
    }
    // Sources may have re-stamped origins of unchanged resources; keep the new map.
    const changeId = this.#clock.next();
    this.#state = { changeId, resources: next };
    writeStateFile(this.#dataDir, STATE_FILE, { changeId, resources: [...next.values()] } satisfies PersistedConfig);
    this.#log.info({ changeId, created, updated, deleted }, 'config committed');
    for (const listener of this.#listeners) listener(this.#state);
    return { ok: true, changeId, created, updated, deleted, unchanged };
  }
}
