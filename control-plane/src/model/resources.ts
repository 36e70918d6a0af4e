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
  readonly spec: {
    readonly protocol: Protocol;
    readonly port: number;
    readonly mtls: MtlsMode;
    /** Hosts this service's sidecars call, sent to them up front; others are learned on first use. */
    readonly calls: readonly string[];
  };
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

/** Envoy's and Istio's names for what may be retried, plus gRPC statuses in response headers. */
export type RetryCondition =
  | '5xx'
  | 'gateway-error'
  | 'reset'
  | 'connect-failure'
  | 'cancelled'
  | 'deadline-exceeded'
  | 'resource-exhausted'
  | 'unavailable';

/** A rule's retry policy with defaults filled in (model/defaults.ts). */
export interface RetryPolicy {
  /** Retries after the first attempt (Istio's `attempts`); 0 disables. */
  readonly attempts: number;
  /** 0: only the rule's timeout bounds an attempt. */
  readonly perTryTimeoutMs: number;
  readonly retryOn: readonly RetryCondition[];
  readonly retriableStatusCodes: readonly number[];
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  readonly retryNonIdempotent: boolean;
  readonly maxRequestBytes: number;
}

export interface RouteRule {
  readonly path: PathMatch | undefined;
  readonly headers: readonly HeaderMatch[];
  readonly methods: readonly string[];
  readonly backends: readonly Backend[];
  readonly timeoutMs: number;
  readonly retries: RetryPolicy;
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

export type ConsistentHash =
  | { readonly header: string }
  | { readonly cookie: { readonly name: string; readonly ttlMs: number; readonly path: string } };

/**
 * How a sidecar treats one destination (a service, or one subset of it). Every section is
 * optional as written; unset fields come from the service-wide policy, then the defaults.
 */
export interface DestinationPolicySpec {
  readonly service: string;
  /** Applies to the clusters of exactly this subset; absent: the whole service. */
  readonly subset: Readonly<Record<string, string>> | undefined;
  readonly loadBalancer?: {
    readonly policy?: 'least-request' | 'round-robin' | 'consistent-hash' | undefined;
    readonly consistentHash?: ConsistentHash | undefined;
    readonly panicThreshold?: number | undefined;
  };
  readonly connectionPool?: {
    readonly connectTimeoutMs?: number | undefined;
    readonly idleTimeoutMs?: number | undefined;
    readonly maxConnections?: number | undefined;
    readonly maxPendingRequests?: number | undefined;
    readonly maxRequestsPerConnection?: number | undefined;
  };
  readonly circuitBreakers?: {
    readonly maxConnections?: number | undefined;
    readonly maxPendingRequests?: number | undefined;
    readonly maxRequests?: number | undefined;
    readonly maxRetries?: number | undefined;
  };
  readonly outlierDetection?: {
    readonly consecutive5xx?: number | undefined;
    readonly consecutiveGatewayErrors?: number | undefined;
    readonly intervalMs?: number | undefined;
    readonly baseEjectionTimeMs?: number | undefined;
    readonly maxEjectionTimeMs?: number | undefined;
    readonly maxEjectionPercent?: number | undefined;
    readonly successRate?: { readonly minimumHosts: number; readonly requestVolume: number; readonly stdevFactor: number } | undefined;
  };
  readonly retryBudget?: {
    readonly percent?: number | undefined;
    readonly minRetriesPerSecond?: number | undefined;
    readonly ttlMs?: number | undefined;
  };
}

export interface DestinationPolicyResource {
  readonly kind: 'DestinationPolicy';
  readonly metadata: ObjectMeta;
  readonly spec: DestinationPolicySpec;
}

export type MeshResource = ServiceResource | RouteResource | WorkloadResource | AuthorizationPolicyResource | DestinationPolicyResource;
export type MeshKind = MeshResource['kind'];

/** "Kind/namespace/name": the identity of a resource in the store. */
export type ResourceKey = string;

export function resourceKey(resource: { kind: string; metadata: { namespace: string; name: string } }): ResourceKey {
  return `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
}
