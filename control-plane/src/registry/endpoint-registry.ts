// Endpoints come from the sidecars themselves: a connected sidecar announces its service,
// labels and inbound address, and its endpoint is withdrawn when its stream ends.
//
// After a control-plane restart the sidecars reconnect one by one. So that the first
// pushes do not tell everyone that most endpoints are gone, the registry is persisted and
// restored entries stay for a grace period, until their sidecar reconnects or it expires.
import type { Logger } from 'pino';
import type { ChangeClock } from '../store/change-clock.ts';
import { readStateFile, writeStateFile } from '../store/persisted-file.ts';

export interface EndpointRecord {
  readonly nodeId: string;
  readonly service: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly address: string;
  readonly port: number;
  /** The SPIFFE ID of the sidecar's certificate, from its discovery stream's mTLS. */
  readonly identity: string;
}

interface Entry {
  readonly record: EndpointRecord;
  /** Set for entries restored from disk that no live stream has confirmed yet. */
  readonly restoredUntil?: number;
}

const STATE_FILE = 'endpoints.json';

export class EndpointRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<() => void>();
  readonly #clock: ChangeClock;
  readonly #dataDir: string;
  readonly #log: Logger;
  #changeId = 0;
  #list: readonly EndpointRecord[] | undefined;
  #persistPending: NodeJS.Immediate | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(options: { clock: ChangeClock; dataDir: string; log: Logger; restoreGraceMs: number; now?: () => number }) {
    this.#clock = options.clock;
    this.#dataDir = options.dataDir;
    this.#log = options.log.child({ component: 'endpoints' });
    const persisted = readStateFile<{ changeId: number; endpoints: EndpointRecord[] }>(this.#dataDir, STATE_FILE);
    if (persisted && persisted.endpoints.length > 0) {
      const until = (options.now ?? Date.now)() + options.restoreGraceMs;
      // An entry without an identity (an older format) would be called in plaintext; drop it.
      for (const record of persisted.endpoints) if (record.identity) this.#entries.set(record.nodeId, { record, restoredUntil: until });
      this.#clock.advanceTo(persisted.changeId);
      this.#changeId = persisted.changeId;
      this.#log.info(
        { count: persisted.endpoints.length, graceMs: options.restoreGraceMs },
        'endpoints restored; waiting for their sidecars',
      );
      this.#expiryTimer = setTimeout(() => this.#expireRestored(), options.restoreGraceMs);
      this.#expiryTimer.unref();
    }
  }

  /** The change id of the last endpoint change. */
  get changeId(): number {
    return this.#changeId;
  }

  list(): readonly EndpointRecord[] {
    this.#list ??= [...this.#entries.values()]
      .map((e) => e.record)
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    return this.#list;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  upsert(record: EndpointRecord): void {
    const previous = this.#entries.get(record.nodeId);
    this.#entries.set(record.nodeId, { record });
    if (previous && JSON.stringify(previous.record) === JSON.stringify(record)) return; // a restored entry confirmed
    this.#changed();
  }

  remove(nodeId: string): void {
    if (this.#entries.delete(nodeId)) this.#changed();
  }

  close(): void {
    clearTimeout(this.#expiryTimer);
    if (this.#persistPending) {
      clearImmediate(this.#persistPending);
      this.#persist();
    }
  }

  #expireRestored(): void {
    let expired = 0;
    for (const [nodeId, entry] of this.#entries) {
      if (entry.restoredUntil !== undefined) {
        this.#entries.delete(nodeId);
        expired += 1;
      }
    }
    if (expired > 0) {
      this.#log.info({ expired }, 'restored endpoints whose sidecars did not reconnect were withdrawn');
      this.#changed();
    }
  }

  #changed(): void {
    this.#list = undefined;
    this.#changeId = this.#clock.next();
    // Written at the end of this turn of the event loop: a burst of connects is one write,
    // and a control plane killed right after a change still finds it on restart.
    this.#persistPending ??= setImmediate(() => this.#persist());
    for (const listener of this.#listeners) listener();
  }

  #persist(): void {
    this.#persistPending = undefined;
    try {
      writeStateFile(this.#dataDir, STATE_FILE, { changeId: this.#changeId, endpoints: this.list() });
    } catch (error) {
      this.#log.warn({ err: error }, 'cannot persist endpoints');
    }
  }
}
