// The mesh configuration as users write it (Kubernetes-like documents), after validation.
// No proto types here: snapshot/builder.ts translates these into what sidecars receive.

export const API_VERSION = 'weft.io/v1alpha1';

export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ServiceResource {
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly protocol: Protocol; readonly port: number };
}

export type PathMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string };

export type HeaderMatch = { readonly name: string; readonly invert: boolean } & (
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string }
  | { readonly kind: 'present' }
);

export interface Backend {
  readonly service: string;
  readonly namespace: string;
  /** Endpoints must carry all of these labels; empty selects the whole service. */
  readonly subset: Readonly<Record<string, string>>;
  readonly weight: number;
}

export interface RouteRule {
  readonly path: PathMatch | undefined;
  readonly headers: readonly HeaderMatch[];
  readonly methods: readonly string[];
  readonly backends: readonly Backend[];
  readonly timeoutMs: number;
}

export interface RouteResource {
  readonly kind: 'Route';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly hosts: readonly string[]; readonly rules: readonly RouteRule[] };
}

/** What `weft up` runs on one machine; the control plane stores it but sends nothing for it. */
export interface WorkloadResource {
  readonly kind: 'Workload';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly service: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly replicas: number;
    readonly command: readonly string[];
    readonly env: Readonly<Record<string, string>>;
  };
}

export type MeshResource = ServiceResource | RouteResource | WorkloadResource;
export type MeshKind = MeshResource['kind'];

/** "Kind/namespace/name": the identity of a resource in the store. */
export type ResourceKey = string;

export function resourceKey(resource: { kind: string; metadata: { namespace: string; name: string } }): ResourceKey {
  return `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
}
