// The aggregated discovery service: one StreamSession per connected sidecar. It registers
// the sidecar's endpoint, builds its snapshot from the current mesh, and pushes on change.
// Snapshots are cached per (namespace, service) view and change id, since sidecars of the
// same service receive the same resources.
import * as grpc from '@grpc/grpc-js';
import { AggregatedDiscoveryService, type DiscoveryRequest, type DiscoveryResponse, TYPE_URL, toGrpcServiceDefinition } from '@weft/proto';
import type { Logger } from 'pino';
import { peerWorkload } from '../identity/peer-identity.ts';
import type { EndpointRegistry } from '../registry/endpoint-registry.ts';
import { type Interest, type Snapshot, SnapshotBuilder } from '../snapshot/builder.ts';
import { buildMeshIndex, type MeshTrust } from '../snapshot/mesh-index.ts';
import type { ChangeClock } from '../store/change-clock.ts';
import type { ConfigStore } from '../store/config-store.ts';
import { toNodeInfo } from './node-info.ts';
import { PushScheduler } from './push-scheduler.ts';
import { type SessionStatus, StreamSession } from './stream-session.ts';

export interface ChangeStatus {
  readonly changeId: number;
  /** True once every connected sidecar has ACKed this change or NACKed it. */
  readonly done: boolean;
  readonly sidecars: readonly { node: string; service: string; state: 'synced' | 'pending' | 'nacked'; error?: string }[];
}

/** The trust bundle and signer to distribute, and word when they change. */
export interface TrustSource {
  current(): MeshTrust;
  onChange(listener: () => void): () => void;
}

export interface DiscoveryServerOptions {
  readonly store: ConfigStore;
  readonly endpoints: EndpointRegistry;
  readonly trust: TrustSource;
  readonly clock: ChangeClock;
  readonly log: Logger;
  readonly controlPlaneId: string;
  readonly debounceMs: number;
}

type Call = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

export class DiscoveryServer {
  readonly #options: DiscoveryServerOptions;
  readonly #log: Logger;
  readonly #sessions = new Map<string, { session: StreamSession; call: Call }>();
  readonly #scheduler: PushScheduler;
  #builder: SnapshotBuilder | undefined;
  readonly #snapshots = new Map<string, Snapshot>();

  constructor(options: DiscoveryServerOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'xds' });
    this.#scheduler = new PushScheduler(() => this.pushAll(), { debounceMs: options.debounceMs, maxDelayMs: 1000 });
    options.store.onChange(() => this.#scheduler.schedule());
    options.endpoints.onChange(() => this.#scheduler.schedule());
    options.trust.onChange(() => {
      options.clock.next(); // a new bundle or signer is a change every sidecar must apply
      this.#scheduler.schedule();
    });
  }

  register(server: grpc.Server): void {
    server.addService(toGrpcServiceDefinition(AggregatedDiscoveryService), {
      streamAggregatedResources: (call: Call) => this.#open(call),
    });
  }

  sessions(): SessionStatus[] {
    return [...this.#sessions.values()].map(({ session }) => session.status());
  }

  changeStatus(changeId: number): ChangeStatus {
    const sidecars = [...this.#sessions.values()].map(({ session }) => {
      const base = { node: session.node.id, service: session.node.service };
      if (session.syncedChangeId >= changeId) return { ...base, state: 'synced' as const };
      const nack = session.nackFor(changeId);
      if (nack) return { ...base, state: 'nacked' as const, error: `${nack.type}: ${nack.message}` };
      return { ...base, state: 'pending' as const };
    });
    return { changeId, done: sidecars.every((s) => s.state !== 'pending'), sidecars };
  }

  /** Rebuilds snapshots from the current mesh and sends what changed to every sidecar. */
  pushAll(): void {
    for (const { session } of this.#sessions.values()) session.push(this.#snapshotFor(session.node, session.interest));
  }

  close(): void {
    this.#scheduler.close();
    for (const { call } of this.#sessions.values()) call.end();
    this.#sessions.clear();
  }

  #snapshotFor(node: { service: string; namespace: string }, interest: Interest): Snapshot {
    const changeId = this.#options.clock.current;
    if (this.#builder?.changeId !== changeId) {
      const index = buildMeshIndex(this.#options.store.state, this.#options.endpoints.list(), changeId, this.#options.trust.current());
      this.#builder = new SnapshotBuilder(index);
      this.#snapshots.clear();
    }
    const key = `${node.namespace}/${node.service}|${interest.kind === 'all' ? '*' : interest.hosts.join(',')}`;
    let snapshot = this.#snapshots.get(key);
    if (!snapshot) {
      snapshot = this.#builder.build(node, interest);
      this.#snapshots.set(key, snapshot);
    }
    return snapshot;
  }

  #open(call: Call): void {
    const peer = call.getPeer();
    let entry: { session: StreamSession; call: Call } | undefined;

    call.on('data', (request: DiscoveryRequest) => {
      if (!entry) {
        const workload = peerWorkload(call, this.#options.trust.current().trustDomain);
        if (!workload.ok) {
          const details = `discovery needs mutual TLS with a workload certificate: ${workload.error}`;
          this.#log.warn({ peer, error: details }, 'discovery stream refused');
          call.emit('error', { code: grpc.status.UNAUTHENTICATED, details });
          return;
        }
        const result = toNodeInfo(request.node, workload);
        if (!result.ok) {
          this.#log.warn({ peer, identity: workload.spiffeId, error: result.error }, 'discovery stream refused');
          call.emit('error', { code: result.denied ? grpc.status.PERMISSION_DENIED : grpc.status.INVALID_ARGUMENT, details: result.error });
          return;
        }
        const { node, endpoint } = result;
        const previous = this.#sessions.get(node.id);
        if (previous) {
          this.#log.info({ node: node.id }, 'sidecar reconnected; closing its previous stream');
          previous.call.end();
        }
        const session = new StreamSession({
          node,
          send: (response) => call.write(response),
          log: this.#log.child({ node: node.id }),
          controlPlaneId: this.#options.controlPlaneId,
        });
        entry = { session, call };
        this.#sessions.set(node.id, entry);
        this.#log.info(
          { node: node.id, service: node.service, namespace: node.namespace, identity: node.identity, peer },
          'sidecar connected',
        );
        if (endpoint) {
          this.#options.endpoints.upsert({
            nodeId: node.id,
            service: node.service,
            namespace: node.namespace,
            labels: node.labels,
            address: endpoint.address,
            port: endpoint.port,
            identity: node.identity,
          });
        }
        session.retarget(this.#snapshotFor(node, session.interest));
      }
      const { session } = entry;
      const interestChanged = session.updateInterest(request);
      if (interestChanged) session.retarget(this.#snapshotFor(session.node, session.interest));
      session.onRequest(request);
      // A sidecar waiting on a host it asked for gets an answer even when nothing changed
      // (also when it re-subscribes after a reconnect with hosts still unanswered).
      const resubscribed = request.responseNonce === '' && request.typeUrl === TYPE_URL.route && request.resourceNames.length > 0;
      if ((interestChanged && request.responseNonce !== '') || (resubscribed && session.interest.kind === 'hosts')) {
        session.push(this.#snapshotFor(session.node, session.interest), 'route');
      }
    });

    const closed = () => {
      if (!entry || this.#sessions.get(entry.session.node.id) !== entry) return;
      this.#sessions.delete(entry.session.node.id);
      this.#options.endpoints.remove(entry.session.node.id);
      this.#log.info({ node: entry.session.node.id }, 'sidecar disconnected');
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('cancelled', closed);
    call.on('error', closed);
    call.on('close', closed);
  }
}
