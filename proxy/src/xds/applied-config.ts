// The config this sidecar serves with, one resource type at a time. Each discovery
// response is validated whole; a bad one changes nothing (the caller NACKs) and the last
// good config stays. In-flight requests hold the objects they started with, so swapping
// a table never disturbs them.
import { toJson } from '@bufbuild/protobuf';
import { AnySchema, anyUnpack } from '@bufbuild/protobuf/wkt';
import {
  type Cluster,
  type ClusterLoadAssignment,
  type Listener,
  RESOURCE_TYPES,
  type Resource,
  type ResourceType,
  type RouteConfiguration,
  type TrustBundle,
  TYPE_URL,
  xdsRegistry,
} from '@weft/proto';
import type { ClusterManager, EndpointSpec } from '../cluster/cluster-manager.ts';
import { Authorizer } from '../inbound/authorization.ts';
import type { RouteTable } from '../routing/route-table.ts';
import type { MtlsMode } from '../tls/inbound-tls.ts';
import { toClusterSpec } from './resources/cluster.ts';
import { toEndpoints } from './resources/endpoint.ts';
import { type ListenerSpec, toListenerSpec } from './resources/listener.ts';
import { Problems } from './resources/problems.ts';
import { toRouteTable } from './resources/route.ts';
import { type TrustUpdate, toTrustUpdate } from './resources/trust-bundle.ts';

export interface AppliedVersion {
  readonly version: string;
  readonly changeId: number;
  readonly appliedAt: string;
}

/** What the inbound listener enforces: read per connection (mode) and per request. */
export interface InboundPolicy {
  readonly mode: MtlsMode;
  /** Undefined when no AuthorizationPolicy names this service: every peer may call. */
  readonly authorizer: Authorizer | undefined;
  /** How the app is spoken to (see ListenerSpec.appProtocol). */
  readonly appProtocol: 'h2' | 'caller';
}

export interface AppliedConfigOptions {
  /** This sidecar's trust domain: a TrustBundle for another one is refused. */
  readonly trustDomain: string;
  /** Called when a new trust bundle is applied. */
  readonly onTrust: (update: TrustUpdate) => void;
  /** Opaque TCP listeners: binds what a listener update needs before it is applied.
   * Undefined when nothing changes; otherwise the NACK text, or the step that applies it. */
  readonly prepareListeners?: (specs: readonly ListenerSpec[]) => Promise<string | (() => void)> | undefined;
}

const STRICT: InboundPolicy = { mode: 'strict', authorizer: undefined, appProtocol: 'caller' };

export class AppliedConfig {
  readonly clusters: ClusterManager;
  #routeTables = new Map<string, RouteTable>();
  #listeners: readonly ListenerSpec[] = [];
  /** The listener specs #prepare validated last, for prepareListeners. */
  #preparedListeners: readonly ListenerSpec[] = [];
  #inbound: InboundPolicy = STRICT;
  readonly #options: AppliedConfigOptions;
  readonly #versions = new Map<ResourceType, AppliedVersion>();
  /** Raw resources as last applied, for /config_dump. */
  readonly #dump = new Map<ResourceType, readonly unknown[]>();

  constructor(clusters: ClusterManager, options: AppliedConfigOptions) {
    this.clusters = clusters;
    this.#options = options;
  }

  /** mTLS mode and authorization of the inbound listener (strict, allow all, until told). */
  get inbound(): InboundPolicy {
    return this.#inbound;
  }

  /** The route table the outbound listener uses, once routes have arrived. */
  get outboundRoutes(): RouteTable | undefined {
    const name = this.#listeners.find((l) => l.direction === 'outbound' && l.tcp === undefined)?.routeConfigName ?? 'outbound';
    return this.#routeTables.get(name);
  }

  /** Ready once every type has been applied at least once. */
  get ready(): boolean {
    return this.#versions.size === RESOURCE_TYPES.length;
  }

  version(type: ResourceType): string {
    return this.#versions.get(type)?.version ?? '';
  }

  /** Applies a response's resources; returns the NACK message when they are refused. A
   * listener update that opens or closes local ports settles later (a promise). */
  apply(
    type: ResourceType,
    resources: readonly Resource[],
    version: string,
    changeId: number,
  ): string | undefined | Promise<string | undefined> {
    const problems = new Problems();
    const messages = unpackAll(type, resources, problems);
    const commit = problems.empty ? this.#prepare(type, messages, problems) : undefined;
    if (!commit || !problems.empty) return problems.summary();
    const binding = type === 'listener' ? this.#options.prepareListeners?.(this.#preparedListeners) : undefined;
    if (binding === undefined) {
      this.#commit(type, commit, resources, version, changeId);
      return undefined;
    }
    return binding.then((bound) => {
      if (typeof bound === 'string') return bound;
      bound();
      this.#commit(type, commit, resources, version, changeId);
      return undefined;
    });
  }

  /** Opaque TCP listeners of the applied config. */
  get tcpListeners(): readonly ListenerSpec[] {
    return this.#listeners.filter((l) => l.tcp !== undefined);
  }

  #commit(type: ResourceType, commit: () => void, resources: readonly Resource[], version: string, changeId: number): void {
    commit();
    this.#versions.set(type, { version, changeId, appliedAt: new Date().toISOString() });
    this.#dump.set(
      type,
      resources.map((r) => (r.resource ? toJson(AnySchema, r.resource, { registry: xdsRegistry }) : null)),
    );
  }

  dump(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const type of ['trustBundle', 'listener', 'route', 'cluster', 'endpoint'] as const) {
      out[type] = { ...this.#versions.get(type), resources: this.#dump.get(type) ?? [] };
    }
    return out;
  }

  /** Validates and returns the commit step, so nothing changes unless all is valid. */
  #prepare(type: ResourceType, messages: readonly unknown[], problems: Problems): (() => void) | undefined {
    switch (type) {
      case 'trustBundle': {
        const bundles = messages as TrustBundle[];
        if (bundles.length !== 1) problems.add('TrustBundle', '', `expected exactly one, got ${bundles.length}`);
        const update = bundles[0] ? toTrustUpdate(bundles[0], this.#options.trustDomain, problems) : undefined;
        return update ? () => this.#options.onTrust(update) : undefined;
      }
      case 'cluster': {
        const specs = (messages as Cluster[]).map((c) => toClusterSpec(c, problems));
        duplicates(
          specs.map((s) => s.name),
          'Cluster',
          problems,
        );
        return () => this.clusters.setClusters(specs);
      }
      case 'endpoint': {
        const byCluster = new Map<string, EndpointSpec[]>();
        for (const assignment of messages as ClusterLoadAssignment[]) {
          byCluster.set(assignment.clusterName, toEndpoints(assignment, problems));
        }
        return () => this.clusters.setEndpoints(byCluster);
      }
      case 'listener': {
        const specs = (messages as Listener[]).map((l) => toListenerSpec(l, problems));
        duplicates(
          specs.map((s) => s.name),
          'Listener',
          problems,
        );
        this.#preparedListeners = specs;
        return () => {
          this.#listeners = specs;
          const inbound = specs.find((l) => l.direction === 'inbound');
          this.#inbound = inbound
            ? {
                mode: inbound.mtlsMode,
                authorizer: inbound.policies.length > 0 ? new Authorizer(inbound.policies) : undefined,
                appProtocol: inbound.appProtocol,
              }
            : STRICT;
        };
      }
      case 'route': {
        const tables = new Map<string, RouteTable>();
        for (const config of messages as RouteConfiguration[]) {
          const table = toRouteTable(config, problems);
          if (table) tables.set(table.name, table);
        }
        return () => {
          this.#routeTables = tables;
          const referenced = new Set<string>();
          for (const table of tables.values()) for (const name of table.clusterNames) referenced.add(name);
          this.clusters.setReferenced(referenced);
        };
      }
    }
  }
}

function unpackAll(type: ResourceType, resources: readonly Resource[], problems: Problems): unknown[] {
  const expected = TYPE_URL[type];
  const out: unknown[] = [];
  resources.forEach((resource, i) => {
    if (resource.resource?.typeUrl !== expected) {
      problems.add(
        `resources[${i}] "${resource.name}"`,
        'type_url',
        `expected ${expected}, got ${resource.resource?.typeUrl ?? 'nothing'}`,
      );
      return;
    }
    try {
      const message = anyUnpack(resource.resource, xdsRegistry);
      if (message) out.push(message);
      else problems.add(`resources[${i}] "${resource.name}"`, '', 'cannot decode');
    } catch (error) {
      problems.add(`resources[${i}] "${resource.name}"`, '', `cannot decode: ${(error as Error).message}`);
    }
  });
  return out;
}

function duplicates(names: readonly string[], kind: string, problems: Problems): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) problems.add(`${kind} "${name}"`, 'name', 'appears twice');
    seen.add(name);
  }
}
