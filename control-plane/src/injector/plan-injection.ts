// The one transformation behind `weft inject` and the admission webhook: a pod (or pod
// template) in, the JSON Patch (RFC 6902) that adds the sidecar out. Deciding whether to
// inject, re-injecting when what we would add has changed, and doing nothing when it hasn't
// all live here. Patches are built as explicit operations rather than diffed, so each one
// touches only what injection owns; YAML editing (inject-manifests.ts) replays the same list.
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { ANNOTATION, type PodAnnotations, parseAnnotations, WRITTEN_ANNOTATIONS } from './annotations.ts';
import { INIT_CONTAINER, type InjectorConfig, PROXY_CONTAINER, TOKEN_VOLUME } from './injector-config.ts';
import { type FieldError, type FieldPath, formatFieldPath, toPointer } from './paths.ts';
import { firstAppPort, type PodTemplate, readPodTemplate, serviceAccountOf } from './pod-template.ts';
import { renderSidecar, type SidecarInputs, type SidecarParts } from './sidecar-containers.ts';

/** Who asked: the CLI injects unless opted out; the webhook's two entry points mirror its
 * two selectors (namespace label → inject unless opted out; pod opt-in → only if enabled). */
export type Selection = 'cli' | 'namespace' | 'pod';

export interface InjectionContext {
  readonly selection: Selection;
  /** The owning workload's name (Deployment web): the service name of last resort. */
  readonly workloadName?: string | undefined;
}

export type InjectionOutcome =
  | { readonly kind: 'injected'; readonly service: string; readonly hash: string; readonly replaced: boolean }
  | { readonly kind: 'unchanged'; readonly hash: string }
  | { readonly kind: 'skipped'; readonly reason: string };

export interface InjectionPlan {
  readonly outcome: InjectionOutcome;
  /** Operations on the pod template (paths from its root); empty unless injected. */
  readonly patch: readonly Operation[];
}

export type PlanResult = { ok: true; plan: InjectionPlan } | { ok: false; errors: FieldError[] };

/** Labels the controllers add per pod or per revision: announcing them would make the webhook's
 * answer differ from `weft inject`'s for the same template, and no route selects on them. */
const CONTROLLER_LABELS = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'job-name',
  'controller-uid',
  'batch.kubernetes.io/job-name',
  'batch.kubernetes.io/controller-uid',
  'batch.kubernetes.io/job-completion-index',
  ANNOTATION.inject,
]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function planInjection(value: unknown, config: InjectorConfig, context: InjectionContext): PlanResult {
  const read = readPodTemplate(value);
  if (!read.ok) return read;
  const template = read.value;
  const annotations = parseAnnotations(template.metadata?.annotations ?? {}, template.metadata?.labels ?? {});
  if (!annotations.ok) return annotations;
  const skip = (reason: string): PlanResult => ({ ok: true, plan: { outcome: { kind: 'skipped', reason }, patch: [] } });

  if (annotations.value.inject === 'disabled') return skip(`${ANNOTATION.inject} is disabled`);
  if (context.selection === 'pod' && annotations.value.inject !== 'enabled') return skip(`${ANNOTATION.inject} is not enabled`);
  if (template.spec.hostNetwork === true) return skip("it uses the node's network (hostNetwork), which interception would capture");
  const reserved = template.spec.containers.findIndex((c) => c.name === PROXY_CONTAINER || c.name === INIT_CONTAINER);
  if (reserved >= 0) {
    return {
      ok: false,
      errors: [{ at: ['spec', 'containers', reserved, 'name'], message: 'weft-proxy and weft-init are reserved for the injector' }],
    };
  }

  // Anything injected before is taken out first, so the sidecar is rendered from the
  // workload alone and a second injection finds exactly what the first one added.
  const removal = removalPatch(template);
  const view: PodTemplate =
    removal.length === 0 ? template : fastJsonPatch.applyPatch(fastJsonPatch.deepClone(template), removal, false, false).newDocument;

  const inputs = sidecarInputs(view, annotations.value, context);
  if (!inputs.ok) return inputs;
  if (config.trustBundlePem === '') {
    return {
      ok: false,
      errors: [{ at: [], message: 'the injector has no trust bundle to give the sidecar (weft inject --trust-bundle FILE)' }],
    };
  }
  const parts = renderSidecar(config, inputs.value);
  if (isCurrent(template, parts, config)) {
    return { ok: true, plan: { outcome: { kind: 'unchanged', hash: parts.hash }, patch: [] } };
  }

  const patch: Operation[] = [...removal];
  const initContainers = view.spec.initContainers;
  if (!initContainers) patch.push({ op: 'add', path: '/spec/initContainers', value: [...parts.initContainers] });
  else {
    parts.initContainers.forEach((c, i) => {
      patch.push({ op: 'add', path: toPointer(['spec', 'initContainers', i]), value: c });
    });
  }
  if (!view.spec.volumes) patch.push({ op: 'add', path: '/spec/volumes', value: [parts.volume] });
  else patch.push({ op: 'add', path: '/spec/volumes/-', value: parts.volume });
  const written: Record<string, string> = {
    [ANNOTATION.proxyVersion]: config.proxyVersion,
    [ANNOTATION.injectionHash]: parts.hash,
    ...parts.annotations,
  };
  if (!view.metadata) patch.push({ op: 'add', path: '/metadata', value: { annotations: written } });
  else if (!view.metadata.annotations) patch.push({ op: 'add', path: '/metadata/annotations', value: written });
  else
    for (const [key, v] of Object.entries(written)) patch.push({ op: 'add', path: toPointer(['metadata', 'annotations', key]), value: v });

  return {
    ok: true,
    plan: { outcome: { kind: 'injected', service: inputs.value.service, hash: parts.hash, replaced: removal.length > 0 }, patch },
  };
}

/** Injected before with what we would inject now. Judged by the hash annotation and where our
 * parts sit, not by their fields: the API server adds defaults to them after admission. */
function isCurrent(template: PodTemplate, parts: SidecarParts, config: InjectorConfig): boolean {
  const annotations = template.metadata?.annotations ?? {};
  const inits = template.spec.initContainers ?? [];
  return (
    annotations[ANNOTATION.injectionHash] === parts.hash &&
    Object.entries(parts.annotations).every(([key, value]) => annotations[key] === value) &&
    annotations[ANNOTATION.proxyVersion] === config.proxyVersion &&
    inits[0]?.name === INIT_CONTAINER &&
    inits[1]?.name === PROXY_CONTAINER &&
    inits.filter((c) => c.name === INIT_CONTAINER || c.name === PROXY_CONTAINER).length === 2 &&
    (template.spec.volumes ?? []).filter((v) => v.name === TOKEN_VOLUME).length === 1
  );
}

/** Removes what an earlier injection added: our init containers, volume and annotations. */
function removalPatch(template: PodTemplate): Operation[] {
  const patch: Operation[] = [];
  const ours = (name: string) => name === PROXY_CONTAINER || name === INIT_CONTAINER;
  // Highest index first, so each removal leaves the indices still to remove where they were.
  const inits = template.spec.initContainers ?? [];
  for (let i = inits.length - 1; i >= 0; i--)
    if (ours(inits[i]?.name ?? '')) patch.push({ op: 'remove', path: `/spec/initContainers/${i}` });
  const volumes = template.spec.volumes ?? [];
  for (let i = volumes.length - 1; i >= 0; i--)
    if (volumes[i]?.name === TOKEN_VOLUME) patch.push({ op: 'remove', path: `/spec/volumes/${i}` });
  for (const key of WRITTEN_ANNOTATIONS) {
    if (template.metadata?.annotations?.[key] !== undefined)
      patch.push({ op: 'remove', path: toPointer(['metadata', 'annotations', key]) });
  }
  return patch;
}

function sidecarInputs(
  template: PodTemplate,
  annotations: PodAnnotations,
  context: InjectionContext,
): { ok: true; value: SidecarInputs } | { ok: false; errors: FieldError[] } {
  const labels = template.metadata?.labels ?? {};
  const candidates: [FieldPath, string | undefined][] = [
    [['metadata', 'annotations', ANNOTATION.service], annotations.service],
    [['metadata', 'labels', 'app.kubernetes.io/name'], labels['app.kubernetes.io/name']],
    [['metadata', 'labels', 'app'], labels['app']],
    [['metadata', 'name'], context.workloadName ?? template.metadata?.name],
  ];
  const found = candidates.find(([, v]) => v !== undefined);
  if (!found) {
    return {
      ok: false,
      errors: [
        { at: ['metadata'], message: `cannot tell which service this pod serves: set annotation ${ANNOTATION.service} or label app` },
      ],
    };
  }
  const [where, service = ''] = found;
  if (!DNS_LABEL.test(service)) {
    return {
      ok: false,
      errors: [{ at: where, message: `service name "${service}" must be a DNS label; set annotation ${ANNOTATION.service} to one` }],
    };
  }
  // A pod's identity is spiffe://<trust-domain>/ns/<namespace>/sa/<service account>, and
  // Weft identities name services: the two must be one name, or the sidecar could never
  // get a certificate for the service it serves.
  const serviceAccount = serviceAccountOf(template);
  if (serviceAccount !== service) {
    return {
      ok: false,
      errors: [
        {
          at: ['spec', 'serviceAccountName'],
          message: `the pod runs as service account "${serviceAccount}" but serves Weft service "${service}" (from ${formatFieldPath(where)}); a pod's Weft service is its service account, whose token proves its identity: set serviceAccountName: ${service} (and create that ServiceAccount), or annotation ${ANNOTATION.service}: ${serviceAccount}`,
        },
      ],
    };
  }
  const appPort = annotations.appPort ?? firstAppPort(template);
  const announced = Object.entries(labels)
    .filter(([key]) => !CONTROLLER_LABELS.has(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    ok: true,
    value: {
      service,
      labels: announced,
      excludeInboundPorts: annotations.excludeInboundPorts,
      excludeOutboundPorts: annotations.excludeOutboundPorts,
      ...(appPort !== undefined ? { appPort } : {}),
      ...(annotations.cpuRequest !== undefined ? { cpuRequest: annotations.cpuRequest } : {}),
      ...(annotations.cpuLimit !== undefined ? { cpuLimit: annotations.cpuLimit } : {}),
      ...(annotations.memoryRequest !== undefined ? { memoryRequest: annotations.memoryRequest } : {}),
      ...(annotations.memoryLimit !== undefined ? { memoryLimit: annotations.memoryLimit } : {}),
    },
  };
}

/** The pod with the plan applied (a copy): what the webhook's patch makes of it. */
export function applyPlan<T>(pod: T, plan: InjectionPlan): T {
  if (plan.patch.length === 0) return pod;
  return fastJsonPatch.applyPatch(fastJsonPatch.deepClone(pod), [...plan.patch], true, false).newDocument;
}
