// The mesh configuration as users write it (Kubernetes-like documents), after validation.
// No proto types here: snapshot/builder.ts translates these into what sidecars receive.

export const API_VERSION = 'weft.io/v1alpha1';

export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** strict: mTLS only (the default); permissive: mTLS or plaintext on the same port;
 * disabled: sidecars call it in plaintext. */
export type MtlsMode = 'strict' | 'permissive' | 'disabled';

export interface ServiceResource {
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly protocol: Protocol; readonly port: number; readonly mtls: MtlsMode };
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

/** A caller an AuthorizationPolicy allows: one service, every service of a namespace, or
 * a SPIFFE ID (for example from another trust domain). */
export type Principal =
  | { readonly kind: 'service'; readonly service: string; readonly namespace: string }
  | { readonly kind: 'namespace'; readonly namespace: string }
  | { readonly kind: 'identity'; readonly id: string };

export interface AuthorizationRule {
  /** Empty: any peer. */
  readonly from: readonly Principal[];
  /** Empty: any method. */
  readonly methods: readonly string[];
  /** Empty: any path. */
  readonly pathPrefixes: readonly string[];
}

/** Who may call a service (in the policy's namespace); enforced by its inbound sidecars. */
export interface AuthorizationPolicyResource {
  readonly kind: 'AuthorizationPolicy';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly service: string; readonly rules: readonly AuthorizationRule[] };
}

export type MeshResource = ServiceResource | RouteResource | WorkloadResource | AuthorizationPolicyResource;
export type MeshKind = MeshResource['kind'];

/** "Kind/namespace/name": the identity of a resource in the store. */
export type ResourceKey = string;

export function resourceKey(resource: { kind: string; metadata: { namespace: string; name: string } }): ResourceKey {
  return `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
}
