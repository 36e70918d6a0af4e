// The interception rules as iptables-restore input, and what to delete to take them out
// again, from what `iptables-save` shows. Pure text in, text out; running iptables is
// iptables.ts's job. Everything weft init adds lives in chains named WEFT_* in the nat table
// plus one jump from each nat hook it uses, so "what it added" is exactly: those chains and
// every rule that jumps to them. Each change is one restore transaction: all or nothing.
import type { InterceptionPlan, PortRange } from './init-options.ts';

export const CHAIN = {
  /** PREROUTING → here: inbound TCP, before routing. */
  inbound: 'WEFT_INBOUND',
  inboundRedirect: 'WEFT_IN_REDIRECT',
  /** OUTPUT → here: TCP this pod's processes open. */
  outbound: 'WEFT_OUTBOUND',
  outboundRedirect: 'WEFT_REDIRECT',
} as const;

const PREFIX = 'WEFT_';
/** On the jumps from the hooks; "created table" when the nat table did not exist before, so
 * uninstall also takes away the hook chains iptables created for them. */
const MARK = 'weft init';
const MARK_CREATED = 'weft init: created table';

/** What the nat table holds now, as far as weft is concerned. */
export interface NatState {
  /** `*nat` appeared in iptables-save: the table exists. */
  readonly tableExists: boolean;
  /** WEFT_* chains. */
  readonly chains: readonly string[];
  /** Rules in other chains that jump to a WEFT_* chain, as iptables-save prints them ("-A OUTPUT …"). */
  readonly jumps: readonly string[];
  /** Rules that are not weft's, by chain: a hook chain with none left is empty. */
  readonly otherRules: ReadonlyMap<string, number>;
}

export function parseNatState(saved: string): NatState {
  let tableExists = false;
  let inNat = false;
  const chains: string[] = [];
  const jumps: string[] = [];
  const otherRules = new Map<string, number>();
  for (const raw of saved.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      inNat = line === '*nat';
      tableExists ||= inNat;
      continue;
    }
    if (!inNat) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] ?? '';
      if (name.startsWith(PREFIX)) chains.push(name);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1] ?? '';
      if (chain.startsWith(PREFIX)) continue;
      if (/ -[jg] WEFT_[A-Z0-9_]+(\s|$)/.test(line)) jumps.push(line);
      else otherRules.set(chain, (otherRules.get(chain) ?? 0) + 1);
    }
  }
  return { tableExists, chains, jumps, otherRules };
}

/** Whether there is anything of weft's to remove. */
export function isInstalled(state: NatState): boolean {
  return state.chains.length > 0 || state.jumps.length > 0;
}

/** The rules a plan installs, in order. */
function interceptionRules(plan: InterceptionPlan, mark: string): string[] {
  const rules: string[] = [];
  if (plan.captureInboundPorts.length > 0) {
    rules.push(`-A ${CHAIN.inboundRedirect} -p tcp -j REDIRECT --to-ports ${plan.inboundPort}`);
    for (const r of plan.excludeInboundPorts) rules.push(`-A ${CHAIN.inbound} -p tcp --dport ${portSpec(r)} -j RETURN`);
    for (const r of plan.captureInboundPorts) rules.push(`-A ${CHAIN.inbound} -p tcp --dport ${portSpec(r)} -j ${CHAIN.inboundRedirect}`);
  }
  rules.push(`-A ${CHAIN.outboundRedirect} -p tcp -j REDIRECT --to-ports ${plan.outboundPort}`);
  // Loopback: the app talking to itself and to its sidecar, and the sidecar to the app.
  rules.push(`-A ${CHAIN.outbound} -o lo -j RETURN`);
  // The proxy's own connections (to other sidecars, the control plane, passed-through
  // destinations) would otherwise come straight back to it.
  rules.push(`-A ${CHAIN.outbound} -m owner --uid-owner ${plan.proxyUid} -j RETURN`);
  for (const r of plan.excludeOutboundPorts) rules.push(`-A ${CHAIN.outbound} -p tcp --dport ${portSpec(r)} -j RETURN`);
  rules.push(`-A ${CHAIN.outbound} -j ${CHAIN.outboundRedirect}`);
  if (plan.captureInboundPorts.length > 0) rules.push(`-A PREROUTING -p tcp -m comment --comment "${mark}" -j ${CHAIN.inbound}`);
  rules.push(`-A OUTPUT -p tcp -m comment --comment "${mark}" -j ${CHAIN.outbound}`);
  return rules;
}

/**
 * One transaction that replaces whatever weft rules exist with the plan's: installing twice
 * gives the same rules, and an older set is replaced whole. Declaring a chain that exists
 * flushes it (iptables-restore --noflush).
 */
export function installTransaction(plan: InterceptionPlan, current: NatState): string {
  const created = !current.tableExists || current.jumps.some((j) => j.includes(`"${MARK_CREATED}"`));
  const wanted = plan.captureInboundPorts.length > 0 ? Object.values(CHAIN) : [CHAIN.outbound, CHAIN.outboundRedirect];
  const stale = current.chains.filter((c) => !(wanted as readonly string[]).includes(c));
  return transaction([
    ...wanted.map((c) => `:${c} - [0:0]`),
    ...current.jumps.map(deleteRule),
    ...stale.map((c) => `-F ${c}`),
    ...stale.map((c) => `-X ${c}`),
    ...interceptionRules(plan, created ? MARK_CREATED : MARK),
  ]);
}

/** The rules of a plan as a whole iptables-restore input, as installed in a namespace
 * without weft rules (`weft init --dry-run`). */
export function interceptionTransaction(plan: InterceptionPlan): string {
  return installTransaction(plan, parseNatState('*nat\n'));
}

/** Removes every WEFT_* chain and every jump to one; hook chains the install created (the
 * table did not exist) are removed too once nothing else is in them. */
export function uninstallTransaction(current: NatState): string {
  const hooks = new Set<string>();
  for (const jump of current.jumps) {
    const chain = jump.split(' ')[1] ?? '';
    if (jump.includes(`"${MARK_CREATED}"`) && (current.otherRules.get(chain) ?? 0) === 0) hooks.add(chain);
  }
  return transaction([
    ...current.jumps.map(deleteRule),
    ...current.chains.map((c) => `-F ${c}`),
    ...current.chains.map((c) => `-X ${c}`),
    ...[...hooks].sort().map((c) => `-X ${c}`),
  ]);
}

/** Whether uninstalling removes the last of a table weft created (the caller may then drop it). */
export function createdTable(current: NatState): boolean {
  return current.jumps.some((j) => j.includes(`"${MARK_CREATED}"`)) && current.otherRules.size === 0;
}

function transaction(lines: readonly string[]): string {
  return `*nat\n${lines.join('\n')}\nCOMMIT\n`;
}

function deleteRule(saved: string): string {
  return `-D${saved.slice(2)}`;
}

function portSpec(r: PortRange): string {
  return r.from === r.to ? String(r.from) : `${r.from}:${r.to}`;
}
