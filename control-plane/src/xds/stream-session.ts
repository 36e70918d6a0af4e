// One sidecar's discovery stream: what it subscribed to, what was sent (version, nonce,
// change id), what it ACKed or NACKed. The protocol rules live here:
//   - the first request must carry the node;
//   - a request whose nonce is not the last one sent for its type is stale and ignored;
//   - same nonce + error_detail = NACK (the sidecar keeps its previous version);
//   - same nonce, no error = ACK of that version.
// Order is part of the protocol (as in Envoy's ADS): whatever is sent goes out as trust
// bundle → clusters → endpoints → listeners → routes, so a sidecar never holds a route to
// a cluster it has not been sent. (Removals need no order here: the sidecar keeps a cluster,
// and its endpoints, while its current routes still name it.)
import { create } from '@bufbuild/protobuf';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  DiscoveryResponseSchema,
  RESOURCE_TYPES,
  type ResourceType,
  resourceTypeOf,
  TYPE_URL,
} from '@weft/proto';
import type { Logger } from 'pino';
import { ALL, type Interest, type Snapshot } from '../snapshot/builder.ts';

export interface NodeInfo {
  readonly id: string;
  readonly service: string;
  readonly namespace: string;
  /** The SPIFFE ID of the certificate the stream was opened with. */
  readonly identity: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly inboundAddress: string;
  readonly proxyVersion: string;
  /** `on-demand` (node metadata discovery=on-demand): sent only what it calls. */
  readonly discovery: 'all' | 'on-demand';
}

export interface TypeState {
  subscribed: boolean;
  sent?: { version: string; nonce: string; changeId: number; at: number };
  acked?: { version: string; changeId: number; at: number };
  nack?: { version: string; changeId: number; message: string; at: number } | undefined;
}

export type TypeSyncStatus = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT';

export interface SessionStatus {
  readonly node: NodeInfo;
  readonly connectedAt: number;
  /** Highest change id whose snapshot this sidecar has ACKed for every type. */
  readonly syncedChangeId: number;
  readonly types: Readonly<Record<ResourceType, { status: TypeSyncStatus; version: string; error?: string }>>;
}

/** Hosts one on-demand sidecar may ask for; more are ignored (it then answers 404 for them). */
const MAX_INTEREST = 10_000;

export class StreamSession {
  readonly node: NodeInfo;
  readonly connectedAt: number;
  readonly #types = new Map<ResourceType, TypeState>();
  readonly #send: (response: DiscoveryResponse) => void;
  readonly #log: Logger;
  readonly #controlPlaneId: string;
  readonly #now: () => number;
  #nonce = 0;
  #interest: Interest;
  #latest: Snapshot | undefined;
  #syncedChangeId = 0;

  constructor(options: {
    node: NodeInfo;
    send: (response: DiscoveryResponse) => void;
    log: Logger;
    controlPlaneId: string;
    now?: () => number;
  }) {
    this.node = options.node;
    this.#send = options.send;
    this.#log = options.log;
    this.#controlPlaneId = options.controlPlaneId;
    this.#now = options.now ?? Date.now;
    this.connectedAt = this.#now();
    // A sidecar that discovers on demand starts with its declared calls only.
    this.#interest = options.node.discovery === 'on-demand' ? { kind: 'hosts', hosts: [] } : ALL;
    for (const type of RESOURCE_TYPES) this.#types.set(type, { subscribed: false });
  }

  get syncedChangeId(): number {
    return this.#syncedChangeId;
  }

  /** The NACK that blocks `changeId` on this sidecar, if any. */
  nackFor(changeId: number): { type: ResourceType; message: string } | undefined {
    for (const [type, state] of this.#types) {
      if (state.nack && state.nack.changeId >= changeId && state.sent?.version === state.nack.version) {
        return { type, message: state.nack.message };
      }
    }
    return undefined;
  }

  /** What this sidecar is sent besides its own inbound side (see Interest). */
  get interest(): Interest {
    return this.#interest;
  }

  /**
   * An on-demand sidecar names the hosts it wants in its route requests' resource_names
   * (and re-sends the full list whenever it learns a new one). Returns true when that list
   * changed; the interest counts even on a request with a stale nonce.
   */
  updateInterest(request: DiscoveryRequest): boolean {
    if (this.#interest.kind === 'all' || request.typeUrl !== TYPE_URL.route) return false;
    const hosts = [...new Set(request.resourceNames.map((h) => h.toLowerCase().replace(/:\d+$/, '')))].sort().slice(0, MAX_INTEREST);
    const current = this.#interest.hosts;
    if (hosts.length === current.length && hosts.every((h, i) => h === current[i])) return false;
    this.#interest = { kind: 'hosts', hosts };
    return true;
  }

  /** Takes a new target snapshot without sending anything (the request being handled will). */
  retarget(snapshot: Snapshot): void {
    this.#latest = snapshot;
  }

  /** Handles one request (subscription, ACK or NACK) from the sidecar. */
  onRequest(request: DiscoveryRequest): void {
    const type = resourceTypeOf(request.typeUrl);
    if (!type) {
      this.#log.warn({ typeUrl: request.typeUrl }, 'request for an unknown resource type ignored');
      return;
    }
    const state = this.#types.get(type) as TypeState;
    const now = this.#now();
    if (request.responseNonce === '') {
      // A new subscription. A sidecar that reconnects says which version it holds.
      state.subscribed = true;
      if (request.versionInfo !== '') state.acked = { version: request.versionInfo, changeId: 0, at: now };
      // Types before this one first: the target may have moved since they were sent (an
      // on-demand sidecar's re-subscription names new hosts), and a route must never reach
      // a sidecar before the clusters and endpoints it points at.
      const latest = this.#latest;
      if (latest) {
        for (const earlier of RESOURCE_TYPES) {
          if (earlier === type) break;
          this.#sendType(earlier, latest);
        }
        this.#sendType(type, latest);
      }
    } else if (request.responseNonce !== state.sent?.nonce) {
      return; // stale: answers an older response of this type
    } else if (request.errorDetail) {
      state.nack = { version: state.sent.version, changeId: state.sent.changeId, message: request.errorDetail.message, at: now };
      this.#log.warn({ type, version: state.sent.version, error: request.errorDetail.message }, 'sidecar rejected config (NACK)');
    } else {
      state.acked = { version: request.versionInfo, changeId: state.sent.changeId, at: now };
      state.nack = undefined;
    }
    this.#updateSynced();
  }

  /** Sends every subscribed type whose version differs from what the sidecar holds, and
   * `force` even when it does not (an on-demand sidecar waits for that answer). */
  push(snapshot: Snapshot, force?: ResourceType): void {
    this.#latest = snapshot;
    for (const type of RESOURCE_TYPES) this.#sendType(type, snapshot, type === force);
    this.#updateSynced();
  }

  status(): SessionStatus {
    const types = {} as Record<ResourceType, { status: TypeSyncStatus; version: string; error?: string }>;
    for (const [type, state] of this.#types) {
      const version = state.acked?.version ?? '';
      if (state.nack && state.sent?.version === state.nack.version) {
        types[type] = { status: 'NACKED', version, error: state.nack.message };
      } else if (!state.sent && !state.acked) {
        types[type] = { status: 'NOT SENT', version };
      } else if (state.acked && state.acked.version === (state.sent?.version ?? state.acked.version)) {
        types[type] = { status: 'SYNCED', version };
      } else {
        types[type] = { status: 'STALE', version };
      }
    }
    return { node: this.node, connectedAt: this.connectedAt, syncedChangeId: this.#syncedChangeId, types };
  }

  #sendType(type: ResourceType, snapshot: Snapshot, force = false): void {
    const state = this.#types.get(type) as TypeState;
    if (!state.subscribed) return;
    const wanted = snapshot.types[type];
    const holds = state.sent?.version ?? state.acked?.version;
    if (holds === wanted.version && !force) {
      // Nothing new for this type; it now reflects this change too.
      if (state.sent) state.sent.changeId = snapshot.changeId;
      if (state.acked?.version === wanted.version) state.acked.changeId = snapshot.changeId;
      return;
    }
    this.#nonce += 1;
    const nonce = String(this.#nonce);
    state.sent = { version: wanted.version, nonce, changeId: snapshot.changeId, at: this.#now() };
    this.#send(
      create(DiscoveryResponseSchema, {
        versionInfo: wanted.version,
        typeUrl: TYPE_URL[type],
        nonce,
        resources: [...wanted.resources],
        controlPlaneId: this.#controlPlaneId,
        changeId: BigInt(snapshot.changeId),
      }),
    );
  }

  #updateSynced(): void {
    const latest = this.#latest;
    if (!latest) return;
    for (const type of RESOURCE_TYPES) {
      const state = this.#types.get(type) as TypeState;
      if (!state.subscribed || state.acked?.version !== latest.types[type].version) return;
    }
    this.#syncedChangeId = Math.max(this.#syncedChangeId, latest.changeId);
  }
}
