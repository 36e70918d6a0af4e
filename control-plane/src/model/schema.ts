// zod schemas for each document kind: the one place raw YAML becomes typed resources.
// Objects are strict so a misspelt field is an error, not silently ignored.

import { parseSpiffeId } from '@weft/certs';
import { z } from 'zod';
import { DEFAULT_RETRY } from './defaults.ts';
import { parseDurationMs } from './duration.ts';
import {
  API_VERSION,
  type ConsistentHash,
  type DestinationPolicySpec,
  type HeaderMatch,
  type MeshResource,
  type PathMatch,
  type Principal,
  type RetryCondition,
  type RetryPolicy,
} from './resources.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const name = z
  .string()
  .max(63)
  .regex(DNS_LABEL, 'must be a DNS label: lower-case letters, digits and "-", starting and ending alphanumeric');
const labelMap = z.record(z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/, 'invalid label key'), z.string().max(63));

const regexSource = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(error as Error).message}` });
  }
});

const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (write it like 250ms, 2s or 1m)` });
    return z.NEVER;
  }
  return ms;
});

const metadata = z.strictObject({
  name,
  namespace: name.default('default'),
  labels: labelMap.default({}),
  annotations: z.record(z.string(), z.string()).optional(),
});

const pathMatch = z
  .strictObject({
    exact: z.string().startsWith('/').optional(),
    prefix: z.string().startsWith('/').optional(),
    regex: regexSource.optional(),
  })
  .transform((value, ctx): PathMatch => {
    const given = (['exact', 'prefix', 'regex'] as const).filter((k) => value[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of exact, prefix or regex' });
      return z.NEVER;
    }
    const kind = given[0] as 'exact' | 'prefix' | 'regex';
    return { kind, value: value[kind] as string };
  });

const headerMatch = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid header name')
      .transform((s) => s.toLowerCase()),
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: regexSource.optional(),
    present: z.boolean().optional(),
    invert: z.boolean().default(false),
  })
  .transform((value, ctx): HeaderMatch => {
    const given = (['exact', 'prefix', 'regex', 'present'] as const).filter((k) => value[k] !== undefined);
    if (given.length > 1) {
      ctx.addIssue({ code: 'custom', message: 'give at most one of exact, prefix, regex or present' });
      return z.NEVER;
    }
    const base = { name: value.name, invert: value.invert };
    if (value.exact !== undefined) return { ...base, kind: 'exact', value: value.exact };
    if (value.prefix !== undefined) return { ...base, kind: 'prefix', value: value.prefix };
    if (value.regex !== undefined) return { ...base, kind: 'regex', value: value.regex };
    if (value.present === false) return { ...base, kind: 'present', invert: !value.invert };
    return { ...base, kind: 'present' };
  });

const RETRY_CONDITIONS = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'cancelled',
  'deadline-exceeded',
  'resource-exhausted',
  'unavailable',
] as const satisfies readonly RetryCondition[];

/** Conditions by name and status codes (509 or "509"), as a list or Envoy's comma-separated string. */
const retryOn = z.union([z.array(z.union([z.string(), z.number()])), z.string()]).transform((value, ctx) => {
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  const conditions: RetryCondition[] = [];
  const codes: number[] = [];
  items.forEach((item, i) => {
    const path = typeof value === 'string' ? [] : [i];
    if (typeof item === 'number' || /^\d+$/.test(item)) {
      const code = Number(item);
      if (Number.isInteger(code) && code >= 100 && code <= 599) codes.push(code);
      else ctx.addIssue({ code: 'custom', path, message: `${item} is not an HTTP status code` });
    } else if ((RETRY_CONDITIONS as readonly string[]).includes(item)) {
      conditions.push(item as RetryCondition);
    } else {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `unknown retry condition "${item}"; expected one of ${RETRY_CONDITIONS.join(', ')} or a status code`,
      });
    }
  });
  return { conditions, codes };
});

const retries = z.strictObject({
  attempts: z.number().int().min(0).max(10).optional(),
  perTryTimeout: duration.optional(),
  retryOn: retryOn.optional(),
  backoff: z.strictObject({ base: duration.optional(), max: duration.optional() }).optional(),
  retryNonIdempotent: z.boolean().optional(),
  maxRequestBytes: z
    .number()
    .int()
    .min(0)
    .max(16 * 1024 * 1024)
    .optional(),
});

function toRetryPolicy(r: z.output<typeof retries> | undefined): RetryPolicy {
  if (!r) return DEFAULT_RETRY;
  return {
    attempts: r.attempts ?? DEFAULT_RETRY.attempts,
    perTryTimeoutMs: r.perTryTimeout ?? DEFAULT_RETRY.perTryTimeoutMs,
    retryOn: r.retryOn ? r.retryOn.conditions : DEFAULT_RETRY.retryOn,
    retriableStatusCodes: r.retryOn ? r.retryOn.codes : DEFAULT_RETRY.retriableStatusCodes,
    backoff: { baseMs: r.backoff?.base ?? DEFAULT_RETRY.backoff.baseMs, maxMs: r.backoff?.max ?? DEFAULT_RETRY.backoff.maxMs },
    retryNonIdempotent: r.retryNonIdempotent ?? DEFAULT_RETRY.retryNonIdempotent,
    maxRequestBytes: r.maxRequestBytes ?? DEFAULT_RETRY.maxRequestBytes,
  };
}

const backend = z.strictObject({
  service: name,
  namespace: name.optional(),
  subset: labelMap.default({}),
  weight: z.number().int().min(0).max(1000).optional(),
});

const rule = z
  .strictObject({
    match: z
      .strictObject({
        path: pathMatch.optional(),
        headers: z.array(headerMatch).default([]),
        methods: z.array(z.string().regex(/^[A-Z]+$/, 'methods are upper-case, like GET')).default([]),
      })
      .default({ headers: [], methods: [] }),
    backends: z.array(backend).min(1, 'a rule needs at least one backend'),
    timeout: duration.optional(),
    retries: retries.optional(),
  })
  .superRefine((value, ctx) => {
    const policy = toRetryPolicy(value.retries);
    if (policy.backoff.maxMs < policy.backoff.baseMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['retries', 'backoff', 'max'],
        message: `must not be below the base (${policy.backoff.baseMs} ms)`,
      });
    }
    if (policy.attempts > 0 && policy.backoff.baseMs < 1) {
      ctx.addIssue({ code: 'custom', path: ['retries', 'backoff', 'base'], message: 'must be at least 1ms' });
    }
    if (value.timeout && policy.perTryTimeoutMs > value.timeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['retries', 'perTryTimeout'],
        message: `must not exceed the rule's timeout (${value.timeout} ms)`,
      });
    }
  })
  .superRefine((value, ctx) => {
    if (value.backends.length === 1) return;
    const missing = value.backends.findIndex((b) => b.weight === undefined);
    if (missing >= 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['backends', missing, 'weight'],
        message: 'required when a rule has several backends',
      });
      return;
    }
    const total = value.backends.reduce((sum, b) => sum + (b.weight ?? 0), 0);
    if (total !== 100) {
      ctx.addIssue({ code: 'custom', path: ['backends'], message: `weights add up to ${total}; they must add up to 100` });
    }
  });

const document = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  z.strictObject({ apiVersion: z.literal(API_VERSION), kind: z.literal(kind), metadata, spec });

const serviceDocument = document(
  'Service',
  z.strictObject({
    protocol: z.enum(['http', 'http2', 'grpc', 'tcp']).default('http'),
    port: z.number().int().min(1).max(65535),
    mtls: z.enum(['strict', 'permissive', 'disabled']).default('strict'),
    calls: z.array(z.string().regex(/^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a host name')).default([]),
  }),
);

const principal = z
  .strictObject({ service: name.optional(), namespace: name.optional(), identity: z.string().optional() })
  .transform((value, ctx): Principal | { kind: 'service'; service: string; namespace: string | undefined } => {
    if (value.identity !== undefined) {
      if (value.service !== undefined || value.namespace !== undefined) {
        ctx.addIssue({ code: 'custom', message: 'give identity alone, or service (and namespace), or namespace alone' });
        return z.NEVER;
      }
      const parsed = parseSpiffeId(value.identity);
      if (!parsed.ok) {
        ctx.addIssue({ code: 'custom', path: ['identity'], message: parsed.error });
        return z.NEVER;
      }
      return { kind: 'identity', id: parsed.id };
    }
    if (value.service !== undefined) return { kind: 'service', service: value.service, namespace: value.namespace };
    if (value.namespace !== undefined) return { kind: 'namespace', namespace: value.namespace };
    ctx.addIssue({ code: 'custom', message: 'give service (and namespace), namespace, or identity' });
    return z.NEVER;
  });

const authorizationPolicyDocument = document(
  'AuthorizationPolicy',
  z.strictObject({
    service: name,
    rules: z.array(
      z.strictObject({
        from: z.array(principal).default([]),
        methods: z.array(z.string().regex(/^[A-Z]+$/, 'methods are upper-case, like GET')).default([]),
        pathPrefixes: z.array(z.string().startsWith('/')).default([]),
      }),
    ),
  }),
);

const routeDocument = document(
  'Route',
  z.strictObject({
    hosts: z.array(z.string().regex(/^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a host name')).min(1),
    rules: z.array(rule).min(1),
  }),
);

const count = z.number().int().min(0).max(1_000_000);
const percent = z.number().min(0).max(100);
const boundedDuration = (minMs: number, maxMs: number, what: string) =>
  duration.refine((ms) => ms >= minMs && ms <= maxMs, `${what} must be between ${minMs} ms and ${maxMs} ms`);

const consistentHash = z
  .strictObject({
    header: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid header name')
      .transform((s) => s.toLowerCase())
      .optional(),
    cookie: z
      .strictObject({
        name: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid cookie name'),
        ttl: boundedDuration(1000, 365 * 24 * 3_600_000, 'ttl').optional(),
        path: z.string().startsWith('/').optional(),
      })
      .optional(),
  })
  .transform((value, ctx): ConsistentHash => {
    if ((value.header === undefined) === (value.cookie === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of header or cookie' });
      return z.NEVER;
    }
    if (value.header !== undefined) return { header: value.header };
    const cookie = value.cookie as { name: string; ttl?: number; path?: string };
    return { cookie: { name: cookie.name, ttlMs: cookie.ttl ?? 0, path: cookie.path ?? '/' } };
  });

const destinationPolicyDocument = document(
  'DestinationPolicy',
  z.strictObject({
    service: name,
    subset: labelMap.optional(),
    loadBalancer: z
      .strictObject({
        policy: z.enum(['least-request', 'round-robin', 'consistent-hash']).optional(),
        consistentHash: consistentHash.optional(),
        panicThreshold: percent.optional(),
      })
      .superRefine((value, ctx) => {
        if (value.consistentHash && value.policy && value.policy !== 'consistent-hash') {
          ctx.addIssue({ code: 'custom', path: ['consistentHash'], message: `only used with policy consistent-hash, not ${value.policy}` });
        }
      })
      .optional(),
    connectionPool: z
      .strictObject({
        connectTimeout: boundedDuration(1, 60_000, 'connectTimeout').optional(),
        idleTimeout: boundedDuration(1, 3_600_000, 'idleTimeout').optional(),
        maxConnections: count.optional(),
        maxPendingRequests: count.optional(),
        maxRequestsPerConnection: count.optional(),
      })
      .optional(),
    circuitBreakers: z
      .strictObject({
        maxConnections: count.optional(),
        maxPendingRequests: count.optional(),
        maxRequests: count.optional(),
        maxRetries: count.optional(),
      })
      .optional(),
    outlierDetection: z
      .strictObject({
        consecutive5xx: count.optional(),
        consecutiveGatewayErrors: count.optional(),
        interval: boundedDuration(10, 3_600_000, 'interval').optional(),
        baseEjectionTime: boundedDuration(1, 3_600_000, 'baseEjectionTime').optional(),
        maxEjectionTime: boundedDuration(1, 24 * 3_600_000, 'maxEjectionTime').optional(),
        maxEjectionPercent: percent.optional(),
        successRate: z
          .strictObject({
            minimumHosts: z.number().int().min(1).max(10_000).default(5),
            requestVolume: z.number().int().min(1).max(1_000_000).default(100),
            stdevFactor: z.number().positive().max(100).default(1.9),
          })
          .optional(),
      })
      .superRefine((value, ctx) => {
        if (value.baseEjectionTime !== undefined && value.maxEjectionTime !== undefined && value.maxEjectionTime < value.baseEjectionTime) {
          ctx.addIssue({ code: 'custom', path: ['maxEjectionTime'], message: 'must not be below baseEjectionTime' });
        }
      })
      .optional(),
    retryBudget: z
      .strictObject({
        percent: z.number().min(0).max(1000).optional(),
        minRetriesPerSecond: count.optional(),
        ttl: boundedDuration(1000, 60_000, 'ttl').optional(),
      })
      .optional(),
  }),
);

const workloadDocument = document(
  'Workload',
  z.strictObject({
    service: name,
    labels: labelMap.default({}),
    replicas: z.number().int().min(0).max(20).default(1),
    command: z.array(z.string()).min(1),
    env: z.record(z.string(), z.string()).default({}),
  }),
);

export const KINDS = ['Service', 'Route', 'Workload', 'AuthorizationPolicy', 'DestinationPolicy'] as const;

/** Picks the schema by kind so errors speak about the right fields. */
export function schemaFor(kind: unknown) {
  switch (kind) {
    case 'Service':
      return serviceDocument;
    case 'Route':
      return routeDocument;
    case 'Workload':
      return workloadDocument;
    case 'AuthorizationPolicy':
      return authorizationPolicyDocument;
    case 'DestinationPolicy':
      return destinationPolicyDocument;
    default:
      return undefined;
  }
}

/** Raw validated document → domain resource (fills defaults that depend on metadata). */
export function toResource(
  doc: z.output<
    | typeof serviceDocument
    | typeof routeDocument
    | typeof workloadDocument
    | typeof authorizationPolicyDocument
    | typeof destinationPolicyDocument
  >,
): MeshResource {
  const meta = { name: doc.metadata.name, namespace: doc.metadata.namespace, labels: doc.metadata.labels };
  switch (doc.kind) {
    case 'Service':
      return { kind: 'Service', metadata: meta, spec: doc.spec };
    case 'Workload':
      return { kind: 'Workload', metadata: meta, spec: doc.spec };
    case 'AuthorizationPolicy':
      return {
        kind: 'AuthorizationPolicy',
        metadata: meta,
        spec: {
          service: doc.spec.service,
          rules: doc.spec.rules.map((r) => ({
            from: r.from.map((p): Principal => (p.kind === 'service' ? { ...p, namespace: p.namespace ?? meta.namespace } : p)),
            methods: r.methods,
            pathPrefixes: r.pathPrefixes,
          })),
        },
      };
    case 'Route':
      return {
        kind: 'Route',
        metadata: meta,
        spec: {
          hosts: doc.spec.hosts,
          rules: doc.spec.rules.map((r) => ({
            path: r.match.path,
            headers: r.match.headers,
            methods: r.match.methods,
            timeoutMs: r.timeout ?? 0,
            retries: toRetryPolicy(r.retries),
            backends: r.backends.map((b) => ({
              service: b.service,
              namespace: b.namespace ?? meta.namespace,
              subset: b.subset,
              weight: b.weight ?? 100,
            })),
          })),
        },
      };
    case 'DestinationPolicy':
      return { kind: 'DestinationPolicy', metadata: meta, spec: toDestinationPolicySpec(doc.spec) };
  }
}

function toDestinationPolicySpec(spec: z.output<typeof destinationPolicyDocument>['spec']): DestinationPolicySpec {
  const o = spec.outlierDetection;
  const pool = spec.connectionPool;
  const budget = spec.retryBudget;
  return {
    service: spec.service,
    subset: spec.subset && Object.keys(spec.subset).length > 0 ? spec.subset : undefined,
    ...(spec.loadBalancer ? { loadBalancer: spec.loadBalancer } : {}),
    ...(pool
      ? {
          connectionPool: {
            connectTimeoutMs: pool.connectTimeout,
            idleTimeoutMs: pool.idleTimeout,
            maxConnections: pool.maxConnections,
            maxPendingRequests: pool.maxPendingRequests,
            maxRequestsPerConnection: pool.maxRequestsPerConnection,
          },
        }
      : {}),
    ...(spec.circuitBreakers ? { circuitBreakers: spec.circuitBreakers } : {}),
    ...(o
      ? {
          outlierDetection: {
            consecutive5xx: o.consecutive5xx,
            consecutiveGatewayErrors: o.consecutiveGatewayErrors,
            intervalMs: o.interval,
            baseEjectionTimeMs: o.baseEjectionTime,
            maxEjectionTimeMs: o.maxEjectionTime,
            maxEjectionPercent: o.maxEjectionPercent,
            successRate: o.successRate,
          },
        }
      : {}),
    ...(budget ? { retryBudget: { percent: budget.percent, minRetriesPerSecond: budget.minRetriesPerSecond, ttlMs: budget.ttl } } : {}),
  };
}
