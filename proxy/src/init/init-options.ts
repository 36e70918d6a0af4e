// The flags of `weft init`, checked once; each problem names its flag. The injector renders
// them (control-plane/src/injector/sidecar-containers.ts): --proxy-uid, --inbound-port,
// --outbound-port, --capture-inbound-ports, --exclude-inbound-ports, --exclude-outbound-ports.

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** What to intercept, and what to leave alone. */
export interface InterceptionPlan {
  /** The proxy's own traffic is never redirected (it would loop). */
  readonly proxyUid: number;
  /** Where inbound TCP to captured ports goes: the sidecar's inbound listener. */
  readonly inboundPort: number;
  /** Where outbound TCP goes: the sidecar's outbound listener. */
  readonly outboundPort: number;
  /** The app's ports; none: nothing inbound is redirected (a send-only workload). */
  readonly captureInboundPorts: readonly PortRange[];
  readonly excludeInboundPorts: readonly PortRange[];
  /** Destination ports left alone (the control plane's, databases, …). */
  readonly excludeOutboundPorts: readonly PortRange[];
}

export interface InitFlags {
  readonly proxyUid?: string | undefined;
  readonly inboundPort?: string | undefined;
  readonly outboundPort?: string | undefined;
  readonly captureInboundPorts?: string | undefined;
  readonly excludeInboundPorts?: string | undefined;
  readonly excludeOutboundPorts?: string | undefined;
}

export type PlanResult = { ok: true; plan: InterceptionPlan } | { ok: false; errors: string[] };

export function parseInitFlags(flags: InitFlags): PlanResult {
  const errors: string[] = [];
  const number = (flag: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = /^\d{1,10}$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    if (!(value >= min && value <= max)) errors.push(`${flag}: "${raw}" must be a number from ${min} to ${max}`);
    return value;
  };
  const ranges = (flag: string, raw: string | undefined): PortRange[] => {
    const parsed = parsePortRanges(raw ?? '');
    if (typeof parsed === 'string') {
      errors.push(`${flag}: ${parsed}`);
      return [];
    }
    return parsed;
  };
  const plan: InterceptionPlan = {
    proxyUid: number('--proxy-uid', flags.proxyUid, 2102, 0, 4_294_967_294),
    inboundPort: number('--inbound-port', flags.inboundPort, 15006, 1, 65535),
    outboundPort: number('--outbound-port', flags.outboundPort, 15001, 1, 65535),
    captureInboundPorts: ranges('--capture-inbound-ports', flags.captureInboundPorts),
    excludeInboundPorts: ranges('--exclude-inbound-ports', flags.excludeInboundPorts),
    excludeOutboundPorts: ranges('--exclude-outbound-ports', flags.excludeOutboundPorts),
  };
  if (plan.proxyUid === 0 && flags.proxyUid !== undefined) {
    errors.push('--proxy-uid: 0 would exempt every root process from interception; run the proxy as its own user');
  }
  for (const port of [plan.inboundPort, plan.outboundPort]) {
    if (plan.captureInboundPorts.some((r) => port >= r.from && port <= r.to)) {
      errors.push(`--capture-inbound-ports: must not include the proxy's own port ${port}`);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, plan };
}

/** "5432, 8000-8010" → sorted, merged ranges; or a message naming the bad part. */
export function parsePortRanges(raw: string): PortRange[] | string {
  const ranges: PortRange[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const [a, b, extra] = item.split('-');
    const from = port(a);
    const to = b === undefined ? from : port(b);
    if (extra !== undefined || from === undefined || to === undefined || to < from) {
      return `"${item}" is not a port (1–65535) or a range like 8000-8010`;
    }
    ranges.push({ from, to });
  }
  ranges.sort((x, y) => x.from - y.from);
  const merged: PortRange[] = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && r.from <= last.to + 1) merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else merged.push(r);
  }
  return merged;
}

function port(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,5}$/.test(raw.trim())) return undefined;
  const value = Number(raw);
  return value >= 1 && value <= 65535 ? value : undefined;
}
