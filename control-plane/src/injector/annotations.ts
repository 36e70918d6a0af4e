// The weft.io/* annotations a user sets on a pod (template) to steer injection, parsed and
// checked once; each problem names the annotation. Also the names of the annotations the
// injector writes. Reading the rest of the pod is pod-template.ts's job.
import type { FieldError, FieldPath } from './paths.ts';

export const ANNOTATION = {
  /** enabled | disabled. Also read as a label, so a webhook objectSelector can match it. */
  inject: 'weft.io/inject',
  service: 'weft.io/service',
  appPort: 'weft.io/app-port',
  excludeInboundPorts: 'weft.io/exclude-inbound-ports',
  excludeOutboundPorts: 'weft.io/exclude-outbound-ports',
  proxyCpuRequest: 'weft.io/proxy-cpu-request',
  proxyCpuLimit: 'weft.io/proxy-cpu-limit',
  proxyMemoryRequest: 'weft.io/proxy-memory-request',
  proxyMemoryLimit: 'weft.io/proxy-memory-limit',
  /** Written by the injector: what it injected. */
  proxyVersion: 'weft.io/proxy-version',
  injectionHash: 'weft.io/injection-hash',
  /** Written by the injector: the trust bundle (PEM), projected into the proxy as a file. */
  trustBundle: 'weft.io/trust-bundle',
} as const;

/** The annotations the injector writes; removed and rewritten on re-injection. */
export const WRITTEN_ANNOTATIONS: readonly string[] = [ANNOTATION.proxyVersion, ANNOTATION.injectionHash, ANNOTATION.trustBundle];

export type InjectChoice = 'enabled' | 'disabled' | 'unset';

export interface PodAnnotations {
  readonly inject: InjectChoice;
  readonly service?: string;
  readonly appPort?: number;
  readonly excludeInboundPorts: readonly PortRange[];
  readonly excludeOutboundPorts: readonly PortRange[];
  readonly cpuRequest?: string;
  readonly cpuLimit?: string;
  readonly memoryRequest?: string;
  readonly memoryLimit?: string;
}

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

// Kubernetes resource.Quantity, decimal or binary suffix (no exponent form: nobody writes it).
const QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function parseAnnotations(
  annotations: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): { ok: true; value: PodAnnotations } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const at = (key: string) => ['metadata', 'annotations', key];
  const fail = (key: string, message: string) => {
    errors.push({ at: at(key), message });
    return undefined;
  };

  const inject = parseInjectChoice(annotations[ANNOTATION.inject], at(ANNOTATION.inject), errors);
  const labelChoice = parseInjectChoice(labels[ANNOTATION.inject], ['metadata', 'labels', ANNOTATION.inject], errors);
  // Either may opt out; either may opt in.
  const choice: InjectChoice =
    inject === 'disabled' || labelChoice === 'disabled'
      ? 'disabled'
      : inject === 'enabled' || labelChoice === 'enabled'
        ? 'enabled'
        : 'unset';

  let service: string | undefined;
  const rawService = annotations[ANNOTATION.service];
  if (rawService !== undefined) {
    service = DNS_LABEL.test(rawService)
      ? rawService
      : fail(ANNOTATION.service, `"${rawService}" must be a DNS label (lower-case letters, digits, "-")`);
  }

  let appPort: number | undefined;
  const rawAppPort = annotations[ANNOTATION.appPort];
  if (rawAppPort !== undefined) {
    const port = parsePort(rawAppPort);
    appPort = port ?? fail(ANNOTATION.appPort, `"${rawAppPort}" must be a port number 1–65535`);
  }

  const ranges = (key: string): PortRange[] => {
    const raw = annotations[key];
    if (raw === undefined || raw.trim() === '') return [];
    const parsed = parsePortRanges(raw);
    if (typeof parsed === 'string') {
      fail(key, parsed);
      return [];
    }
    return parsed;
  };
  const excludeInboundPorts = ranges(ANNOTATION.excludeInboundPorts);
  const excludeOutboundPorts = ranges(ANNOTATION.excludeOutboundPorts);

  const quantity = (key: string): string | undefined => {
    const raw = annotations[key];
    if (raw === undefined) return undefined;
    return QUANTITY.test(raw) ? raw : fail(key, `"${raw}" is not a Kubernetes quantity (e.g. 100m, 0.5, 64Mi)`);
  };
  const cpuRequest = quantity(ANNOTATION.proxyCpuRequest);
  const cpuLimit = quantity(ANNOTATION.proxyCpuLimit);
  const memoryRequest = quantity(ANNOTATION.proxyMemoryRequest);
  const memoryLimit = quantity(ANNOTATION.proxyMemoryLimit);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      inject: choice,
      excludeInboundPorts,
      excludeOutboundPorts,
      ...(service !== undefined ? { service } : {}),
      ...(appPort !== undefined ? { appPort } : {}),
      ...(cpuRequest !== undefined ? { cpuRequest } : {}),
      ...(cpuLimit !== undefined ? { cpuLimit } : {}),
      ...(memoryRequest !== undefined ? { memoryRequest } : {}),
      ...(memoryLimit !== undefined ? { memoryLimit } : {}),
    },
  };
}

function parseInjectChoice(raw: string | undefined, at: FieldPath, errors: FieldError[]): InjectChoice {
  if (raw === undefined) return 'unset';
  if (raw === 'enabled' || raw === 'disabled') return raw;
  errors.push({ at, message: `"${raw}" must be "enabled" or "disabled"` });
  return 'unset';
}

function parsePort(raw: string): number | undefined {
  if (!/^\d{1,5}$/.test(raw.trim())) return undefined;
  const port = Number(raw);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** "5432, 8000-8010" → ranges, sorted and merged; or a message naming the bad part. */
export function parsePortRanges(raw: string): PortRange[] | string {
  const ranges: PortRange[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const [a, b, extra] = item.split('-');
    const from = parsePort(a ?? '');
    const to = b === undefined ? from : parsePort(b);
    if (extra !== undefined || from === undefined || to === undefined || to < from) {
      return `"${item}" is not a port (1–65535) or a range like 8000-8010`;
    }
    ranges.push({ from, to });
  }
  return mergePortRanges(ranges);
}

/** Sorted, with overlapping and adjacent ranges joined. */
export function mergePortRanges(ranges: readonly PortRange[]): PortRange[] {
  const merged: PortRange[] = [];
  for (const r of [...ranges].sort((x, y) => x.from - y.from)) {
    const last = merged.at(-1);
    if (last && r.from <= last.to + 1) merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else merged.push(r);
  }
  return merged;
}

/** Ranges as the interception flags spell them: "5432,8000-8010". */
export function formatPortRanges(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}
