// The control-plane part of the bench (issue 7, item 2):
//  - config push: for N simulated sidecars, the time from an apply on the admin API (what
//    `weft apply` calls) until all N have ACKed the change, over several applies; with the
//    control plane's RSS and CPU per connected sidecar;
//  - a real sidecar's memory with few versus many services in the mesh.
// The control plane runs on the server CPUs, the fleet of simulated sidecars on the load CPUs.
import { join } from 'node:path';
import { startControlPlane, startSidecar } from '../peers/weft-processes.ts';
import { percentileOfSorted } from '../stats.ts';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { CLOCK_TICKS_PER_S, readMemory, readPidTicks } from '../system/proc.ts';
import { Fleet } from './fleet.ts';
import { scaleMeshYaml, serviceName, sharedRouteYaml } from './scale-mesh.ts';
import type { SimNode } from './sim-sidecar.ts';
import { wallClockMs } from './sim-sidecar.ts';

export interface ControlPlaneOptions {
  readonly dir: string;
  readonly logDir: string;
  readonly serverCpus: string | undefined;
  readonly loadCpus: string | undefined;
  readonly cpuProfDir: string | undefined;
  /** Fleet sizes for the push measurement (10, 100, 1000). */
  readonly sidecarCounts: readonly number[];
  /** Applies per fleet size (p50/p99 are over these). */
  readonly applies: number;
  /** Mesh sizes for the real sidecar's memory (10, 1000). */
  readonly serviceCounts: readonly number[];
}

export interface PushResult {
  readonly sidecars: number;
  readonly services: number;
  /** From starting the fleet until every simulated sidecar held a full snapshot. */
  readonly connectS: number;
  readonly applyToAckMs: readonly number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly controlPlaneRssBeforeMb: number;
  readonly controlPlaneRssMb: number;
  readonly kbPerSidecar: number;
  readonly cpuMsPerSidecarConnect: number;
  readonly cpuMsPerSidecarPush: number;
  /** Sidecars that failed to connect or to ACK, and why. */
  readonly problems: readonly string[];
}

export interface SidecarMemoryResult {
  readonly services: number;
  readonly rssMb: number;
  readonly hwmMb: number;
}

export interface ControlPlaneReport {
  readonly pushes: readonly PushResult[];
  readonly sidecarMemory: readonly SidecarMemoryResult[];
}

/** Ten replicas per service, as in a mesh of mid-sized deployments. */
export const SIDECARS_PER_SERVICE = 10;
const ACK_TIMEOUT_MS = 30_000;
/** Endpoints in the meshes of the sidecar-memory measurement, whatever their size. */
const MEMORY_ENDPOINTS = 10;
const SETTLE_MS = 1000;

export async function runControlPlane(
  processes: OwnedProcesses,
  options: ControlPlaneOptions,
  say: (line: string) => void,
): Promise<ControlPlaneReport> {
  const pushes: PushResult[] = [];
  for (const n of options.sidecarCounts) {
    const result = await measurePush(processes, options, n, say);
    say(
      `control plane, ${n} sidecars: apply→ACK p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms; ` +
        `${result.kbPerSidecar.toFixed(0)} KB and ${result.cpuMsPerSidecarConnect.toFixed(2)} ms CPU per sidecar` +
        (result.problems.length ? `; problems: ${result.problems.join('; ')}` : ''),
    );
    pushes.push(result);
  }
  const sidecarMemory: SidecarMemoryResult[] = [];
  for (const services of options.serviceCounts) {
    const result = await measureSidecarMemory(processes, options, services);
    say(`sidecar with ${services} services in the mesh: RSS ${result.rssMb.toFixed(1)} MB (peak ${result.hwmMb.toFixed(1)} MB)`);
    sidecarMemory.push(result);
  }
  return { pushes, sidecarMemory };
}

async function measurePush(
  processes: OwnedProcesses,
  options: ControlPlaneOptions,
  n: number,
  say: (line: string) => void,
): Promise<PushResult> {
  const services = Math.max(1, Math.ceil(n / SIDECARS_PER_SERVICE));
  const cp = await startControlPlane(processes, {
    name: `cp-push-${n}`,
    dir: options.dir,
    logDir: options.logDir,
    cpus: options.serverCpus,
    cpuProfDir: options.cpuProfDir,
    meshYaml: scaleMeshYaml(services),
  });
  const pid = cp.child.pid as number;
  const fleet = new Fleet(processes, options.loadCpus, join(options.logDir, `fleet-${n}.log`));
  const problems: string[] = [];
  try {
    await sleep(SETTLE_MS);
    const rssBefore = readMemory(pid)?.rssKb ?? Number.NaN;
    const ticks0 = readPidTicks(pid) ?? Number.NaN;
    const started = performance.now();
    const nodes = Array.from({ length: n }, (_, i) => simNode(`sim-${i}`, serviceName(i % services), i));
    // In batches of 100, as a fleet rolls out, rather than a thousand handshakes at once.
    const connected = await fleet.connect(cp, nodes, { batch: 100, timeoutMs: 120_000 });
    if (connected.synced < n) problems.push(`${n - connected.synced} of ${n} did not sync (${connected.errors.join('; ')})`);
    await waitAllSynced(cp.adminUrl, n, 120_000);
    const connectS = (performance.now() - started) / 1000;
    say(`control plane, ${n} sidecars: connected and synced in ${connectS.toFixed(1)} s`);
    await sleep(SETTLE_MS);
    const ticks1 = readPidTicks(pid) ?? Number.NaN;
    const rss = readMemory(pid)?.rssKb ?? Number.NaN;

    const latencies: number[] = [];
    for (let i = 0; i < options.applies; i++) {
      const t0 = wallClockMs();
      const changeId = await apply(cp.adminUrl, sharedRouteYaml(i % 2 === 0 ? 2 : 1));
      const acked = await fleet.awaitChange(changeId, ACK_TIMEOUT_MS);
      if (acked.acked < n) problems.push(`change ${changeId}: only ${acked.acked} of ${n} ACKed within ${ACK_TIMEOUT_MS} ms`);
      else latencies.push(acked.lastAckAtMs - t0);
      await sleep(100);
    }
    const ticks2 = readPidTicks(pid) ?? Number.NaN;
    const sorted = [...latencies].sort((a, b) => a - b);
    const cpuMs = (ticks: number) => (ticks / CLOCK_TICKS_PER_S) * 1000;
    return {
      sidecars: n,
      services,
      connectS,
      applyToAckMs: latencies,
      p50Ms: percentileOfSorted(sorted, 50),
      p99Ms: percentileOfSorted(sorted, 99),
      controlPlaneRssBeforeMb: rssBefore / 1024,
      controlPlaneRssMb: rss / 1024,
      kbPerSidecar: (rss - rssBefore) / n,
      cpuMsPerSidecarConnect: cpuMs(ticks1 - ticks0) / n,
      cpuMsPerSidecarPush: cpuMs(ticks2 - ticks1) / (n * Math.max(1, latencies.length)),
      problems,
    };
  } finally {
    await fleet.close();
    await cp.child.stop();
  }
}

async function measureSidecarMemory(
  processes: OwnedProcesses,
  options: ControlPlaneOptions,
  services: number,
): Promise<SidecarMemoryResult> {
  const cp = await startControlPlane(processes, {
    name: `cp-mesh-${services}`,
    dir: options.dir,
    logDir: options.logDir,
    cpus: options.serverCpus,
    meshYaml: scaleMeshYaml(services),
  });
  const fleet = new Fleet(processes, options.loadCpus, join(options.logDir, `fleet-mesh-${services}.log`));
  try {
    // The same ten endpoints in every mesh size (one simulated sidecar in each of the
    // first ten services), so the comparison isolates the number of services. One
    // sidecar per service would be more realistic, but today the control plane builds one
    // snapshot per service on every push and does not converge with 1,000 of them within
    // minutes (issue 7, item 3).
    const nodes = Array.from({ length: Math.min(services, MEMORY_ENDPOINTS) }, (_, i) => simNode(`sim-${i}`, serviceName(i), i));
    await fleet.connect(cp, nodes, { batch: nodes.length, timeoutMs: 60_000 });
    await waitAllSynced(cp.adminUrl, nodes.length, 60_000);
    const sidecar = await startSidecar(processes, {
      name: `sidecar-mesh-${services}`,
      dir: options.dir,
      logDir: options.logDir,
      cpus: options.serverCpus,
      cpuProfDir: options.cpuProfDir,
      service: 'client',
      controlPlane: cp,
    });
    await waitAllSynced(cp.adminUrl, nodes.length + 1, 60_000);
    await sleep(2 * SETTLE_MS);
    const memory = readMemory(sidecar.child.pid as number);
    await sidecar.child.stop();
    return { services, rssMb: (memory?.rssKb ?? Number.NaN) / 1024, hwmMb: (memory?.hwmKb ?? Number.NaN) / 1024 };
  } finally {
    await fleet.close();
    await cp.child.stop();
  }
}

function simNode(id: string, service: string, index: number): SimNode {
  // Nothing listens there: the simulated sidecars only need an address to announce.
  return { id, service, namespace: 'default', inboundAddress: `127.0.0.1:${20_000 + (index % 40_000)}` };
}

async function apply(adminUrl: string, yaml: string): Promise<number> {
  const response = await fetch(new URL('/api/apply?file=bench-route.yaml', adminUrl), {
    method: 'POST',
    body: yaml,
    headers: { 'content-type': 'application/yaml' },
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { changeId?: number; errors?: string[] };
  if (!response.ok || body.changeId === undefined) throw new Error(`apply refused: ${JSON.stringify(body)}`);
  return body.changeId;
}

/** Until the control plane sees `count` sidecars, each holding its latest change. */
async function waitAllSynced(adminUrl: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const status = (await (await fetch(new URL('/api/status', adminUrl), { signal: AbortSignal.timeout(10_000) })).json()) as {
      changeId: number;
      sidecars: { syncedChangeId: number }[];
    };
    const synced = status.sidecars.filter((s) => s.syncedChangeId >= status.changeId).length;
    if (status.sidecars.length === count && synced === count) return;
    last = `${status.sidecars.length} connected, ${synced} synced at change ${status.changeId}`;
    if (Date.now() > deadline) throw new Error(`control plane: ${count} sidecars not synced after ${timeoutMs} ms (${last})`);
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
