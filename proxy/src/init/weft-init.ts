// `weft init`: installs or removes the interception rules in the current network namespace
// (on Kubernetes: the pod's, from the injected weft-init container). Checks what it needs
// first (privilege, iptables with the nft backend) and says what is missing.
import type { InterceptionPlan, PortRange } from './init-options.ts';
import { applyTransaction, dropNatTableIfEmpty, findIptables, hasNetAdmin, type Iptables, readTables } from './iptables.ts';
import { createdTable, installTransaction, isInstalled, parseNatState, uninstallTransaction } from './iptables-rules.ts';

export type InitResult = { ok: true; summary: string[] } | { ok: false; error: string };

export async function installInterception(plan: InterceptionPlan): Promise<InitResult> {
  const ready = await prepare();
  if (!ready.ok) return ready;
  const saved = await readTables(ready.iptables);
  if (!saved.ok) return { ok: false, error: explain(saved.error) };
  const applied = await applyTransaction(ready.iptables, installTransaction(plan, parseNatState(saved.value)));
  if (!applied.ok) return { ok: false, error: explain(applied.error) };
  return { ok: true, summary: describePlan(plan) };
}

export async function uninstallInterception(): Promise<InitResult> {
  const ready = await prepare();
  if (!ready.ok) return ready;
  const saved = await readTables(ready.iptables);
  if (!saved.ok) return { ok: false, error: explain(saved.error) };
  const state = parseNatState(saved.value);
  if (!isInstalled(state)) return { ok: true, summary: ['no interception rules here: nothing to remove'] };
  const applied = await applyTransaction(ready.iptables, uninstallTransaction(state));
  if (!applied.ok) return { ok: false, error: explain(applied.error) };
  const summary = [`removed chains ${state.chains.join(', ')} and ${state.jumps.length} jump(s) to them`];
  if (createdTable(state) && (await dropNatTableIfEmpty(ready.iptables))) summary.push('removed the nat table weft init had created');
  return { ok: true, summary };
}

/** What the plan does, in words, for the init container's log. */
export function describePlan(plan: InterceptionPlan): string[] {
  const ports = (ranges: readonly PortRange[]) => ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(', ');
  const lines = [];
  if (plan.captureInboundPorts.length === 0) lines.push('inbound: nothing redirected (no --capture-inbound-ports)');
  else {
    const except = plan.excludeInboundPorts.length > 0 ? `, except ports ${ports(plan.excludeInboundPorts)}` : '';
    lines.push(`inbound: TCP to ports ${ports(plan.captureInboundPorts)} → ${plan.inboundPort}${except}`);
  }
  const excluded = [
    `uid ${plan.proxyUid}`,
    'loopback',
    ...(plan.excludeOutboundPorts.length > 0 ? [`ports ${ports(plan.excludeOutboundPorts)}`] : []),
  ];
  lines.push(`outbound: TCP → ${plan.outboundPort}, except ${excluded.join(', ')}`);
  return lines;
}

async function prepare(): Promise<{ ok: true; iptables: Iptables } | { ok: false; error: string }> {
  if (hasNetAdmin() === false) {
    return {
      ok: false,
      error:
        "weft init must run as root (or with CAP_NET_ADMIN) in the workload's network namespace; on Kubernetes the injected weft-init container has that",
    };
  }
  const found = await findIptables();
  return found.ok ? { ok: true, iptables: found.value } : { ok: false, error: found.error };
}

/** iptables' message, plus the usual cause when it is a known one. */
function explain(error: string): string {
  if (/Permission denied|Operation not permitted/i.test(error)) return `${error} (weft init needs root or CAP_NET_ADMIN)`;
  if (/Table does not exist|Could not fetch rule set|Protocol not supported/i.test(error)) {
    return `${error} (the kernel lacks nf_tables NAT support: load nf_tables and nft_chain_nat, or use a node image that has them)`;
  }
  return error;
}
