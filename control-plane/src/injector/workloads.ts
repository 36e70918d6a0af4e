// Where the pod template sits in each Kubernetes workload kind, and in a List of them.
// Kinds we do not know (Services, ConfigMaps, custom resources) hold no template here.
import type { FieldError, FieldPath } from './paths.ts';

/** kind → accepted apiVersions and the path of its pod template. */
const WORKLOADS: Readonly<Record<string, { readonly apiVersions: readonly string[]; readonly template: FieldPath }>> = {
  Pod: { apiVersions: ['v1'], template: [] },
  ReplicationController: { apiVersions: ['v1'], template: ['spec', 'template'] },
  Deployment: { apiVersions: ['apps/v1'], template: ['spec', 'template'] },
  StatefulSet: { apiVersions: ['apps/v1'], template: ['spec', 'template'] },
  DaemonSet: { apiVersions: ['apps/v1'], template: ['spec', 'template'] },
  ReplicaSet: { apiVersions: ['apps/v1'], template: ['spec', 'template'] },
  Job: { apiVersions: ['batch/v1'], template: ['spec', 'template'] },
  CronJob: { apiVersions: ['batch/v1', 'batch/v1beta1'], template: ['spec', 'jobTemplate', 'spec', 'template'] },
};

export const WORKLOAD_KINDS: readonly string[] = Object.keys(WORKLOADS);

export interface TemplateSite {
  /** "Deployment shop/web" for messages. */
  readonly resource: string;
  readonly name: string | undefined;
  /** From the root of the document to the pod template. */
  readonly at: FieldPath;
  readonly template: unknown;
}

export type LocateResult = { ok: true; sites: TemplateSite[] } | { ok: false; errors: FieldError[] };

/** Every pod template in one document (several for a List). */
export function locateTemplates(object: unknown, at: FieldPath = []): LocateResult {
  if (!isRecord(object)) return { ok: true, sites: [] };
  if (object['kind'] === 'List' && Array.isArray(object['items'])) {
    const sites: TemplateSite[] = [];
    const errors: FieldError[] = [];
    object['items'].forEach((item, i) => {
      const found = locateTemplates(item, [...at, 'items', i]);
      if (found.ok) sites.push(...found.sites);
      else errors.push(...found.errors);
    });
    return errors.length > 0 ? { ok: false, errors } : { ok: true, sites };
  }
  const kind = typeof object['kind'] === 'string' ? object['kind'] : undefined;
  const workload = kind === undefined ? undefined : WORKLOADS[kind];
  if (!workload?.apiVersions.includes(String(object['apiVersion']))) return { ok: true, sites: [] };
  const metadata = isRecord(object['metadata']) ? object['metadata'] : {};
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : undefined;
  const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : undefined;
  const resource = `${kind} ${namespace ? `${namespace}/` : ''}${name ?? '(unnamed)'}`;

  let template: unknown = object;
  for (const key of workload.template) {
    template = isRecord(template) ? template[String(key)] : undefined;
    if (template === undefined || template === null) {
      return { ok: false, errors: [{ at: [...at, ...workload.template], message: `${resource} has no pod template` }] };
    }
  }
  return { ok: true, sites: [{ resource, name, at: [...at, ...workload.template], template }] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
