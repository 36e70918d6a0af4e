// Reads what injection needs from an untrusted pod or pod template ({metadata, spec}):
// labels, annotations, containers and their ports, init containers, volumes. Checked with
// zod at this edge, loosely: fields we do not read are never judged, and kept as they are.
import { z } from 'zod';
import type { FieldError } from './paths.ts';

const stringMap = z.record(z.string(), z.string());

const containerPort = z.looseObject({
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.string().optional(),
  name: z.string().optional(),
});

const container = z.looseObject({
  name: z.string().min(1),
  ports: z.array(containerPort).optional(),
});

const podTemplate = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      labels: stringMap.nullish(),
      annotations: stringMap.nullish(),
    })
    .nullish(),
  spec: z.looseObject({
    containers: z.array(container).min(1, 'a pod needs at least one container'),
    initContainers: z.array(container).nullish(),
    volumes: z.array(z.looseObject({ name: z.string() })).nullish(),
    hostNetwork: z.boolean().nullish(),
    serviceAccountName: z.string().nullish(),
    /** Deprecated spelling of serviceAccountName, still honoured by the API server. */
    serviceAccount: z.string().nullish(),
  }),
});

export type PodTemplate = z.output<typeof podTemplate>;

export type PodTemplateResult = { ok: true; value: PodTemplate } | { ok: false; errors: FieldError[] };

export function readPodTemplate(value: unknown): PodTemplateResult {
  const parsed = podTemplate.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((issue) => ({
      at: issue.path.map((p) => (typeof p === 'number' ? p : String(p))),
      message: issue.message,
    })),
  };
}

/** The service account the pod runs as; the API server fills in "default" when none is named. */
export function serviceAccountOf(template: PodTemplate): string {
  return template.spec.serviceAccountName || template.spec.serviceAccount || 'default';
}

/** The first TCP port the first container that declares one listens on: where the app serves. */
export function firstAppPort(template: PodTemplate): number | undefined {
  for (const c of template.spec.containers) {
    for (const p of c.ports ?? []) if (p.protocol === undefined || p.protocol === 'TCP') return p.containerPort;
  }
  return undefined;
}
