// zod schemas for each document kind: the one place raw YAML becomes typed resources.
// Objects are strict so a misspelt field is an error, not silently ignored.

import { parseSpiffeId } from '@weft/certs';
import { z } from 'zod';
import { parseDurationMs } from './duration.ts';
import { API_VERSION, type HeaderMatch, type MeshResource, type PathMatch, type Principal } from './resources.ts';

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

export const KINDS = ['Service', 'Route', 'Workload', 'AuthorizationPolicy'] as const;

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
    default:
      return undefined;
  }
}

/** Raw validated document → domain resource (fills defaults that depend on metadata). */
export function toResource(
  doc: z.output<typeof serviceDocument | typeof routeDocument | typeof workloadDocument | typeof authorizationPolicyDocument>,
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
            backends: r.backends.map((b) => ({
              service: b.service,
              namespace: b.namespace ?? meta.namespace,
              subset: b.subset,
              weight: b.weight ?? 100,
            })),
          })),
        },
      };
  }
}
