// Runs one scenario against one topology and turns what the load generator and /proc say
// into a Sample: throughput, latency percentiles, CPU per proxy (from /proc/<pid>/stat
// before and after), peak RSS during the run, and how busy the rest of the machine was.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { latencyFromH2loadLog, parseH2load } from '../parsers/h2load.ts';
import { parseHey } from '../parsers/hey.ts';
import { parseWrk } from '../parsers/wrk.ts';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { CLOCK_TICKS_PER_S, readBusyTicks, readMemory, readPidTicks, readSelfTicks } from '../system/proc.ts';
import { type Command, h2Command, heyPacedCommand, pacedCommand, wrkCommand } from './load-commands.ts';
import type { Sample } from './sample.ts';
import type { Scenario } from './scenarios.ts';
import { ROLES, type Role, type Topology } from './topology.ts';

export interface MeasureContext {
  readonly processes: OwnedProcesses;
  readonly durationS: number;
  readonly warmupS: number;
  /** CPUs for the load generator. */
  readonly loadCpus: string | undefined;
  readonly tmpDir: string;
  readonly grpcBodyFile: string;
  /** Which tool paces the paced scenario. */
  readonly pacer: 'h2load' | 'hey';
  /** Every long-lived process we started, to tell our CPU use from everyone else's. */
  readonly ownPids: () => readonly number[];
}

const MB = 1024;

export async function measure(scenario: Scenario, topology: Topology, round: number, ctx: MeasureContext): Promise<Sample> {
  const base = { scenario: scenario.id, topology: topology.name, round };
  if (scenario.kind === 'idle') return { ...base, metrics: await idleMemory(topology), errors: 0 };
  if (scenario.kind === 'peak') return { ...base, metrics: peakMemory(topology), errors: 0 };
  if (scenario.kind === 'h2' && 'unsupported' in topology.h2)
    return { ...base, metrics: {}, errors: 0, unsupported: topology.h2.unsupported };

  const logFile = join(ctx.tmpDir, `${scenario.id}-${topology.name}-${round}.log`);
  const command = (durationS: number, log: string | undefined): Command => {
    if (scenario.kind === 'closed') return wrkCommand({ ...topology.h1, path: scenario.path }, scenario.connections, durationS);
    if (scenario.kind === 'paced' && ctx.pacer === 'hey') {
      return heyPacedCommand({ ...topology.h1, path: scenario.path }, scenario.connections, scenario.ratePerConnection ?? 100, durationS);
    }
    if (scenario.kind === 'paced') {
      return pacedCommand(
        { ...topology.h1, path: scenario.path },
        scenario.connections,
        scenario.ratePerConnection ?? 100,
        durationS,
        log ?? '/dev/null',
      );
    }
    const h2 = topology.h2 as { port: number; authority?: string };
    const target = { port: h2.port, host: h2.authority, path: scenario.path };
    return h2Command(target, scenario.connections, scenario.streams ?? 1, durationS, log, scenario.grpc ? ctx.grpcBodyFile : undefined);
  };
  const run = (c: Command, durationS: number) =>
    ctx.processes.run(c.command, c.args, { cpus: ctx.loadCpus, timeoutMs: (durationS + 30) * 1000 });

  if (ctx.warmupS > 0) await run(command(ctx.warmupS, undefined), ctx.warmupS);

  const pids = (scenario.kind === 'h2' && 'port' in topology.h2 ? topology.h2.pids : undefined) ?? topology.pids;
  const sampler = new RssSampler(pids);
  const before = snapshot(pids, ctx.ownPids());
  const result = await run(command(ctx.durationS, logFile), ctx.durationS);
  const after = snapshot(pids, ctx.ownPids());
  sampler.stop();

  const output = `${result.stdout}\n${result.stderr}`;
  const failure = (error: string): Sample => ({
    ...base,
    metrics: {},
    errors: 0,
    failure: result.timedOut ? `timed out; ${error}` : error,
  });
  const metrics: Record<string, number> = { ...cpuMetrics(before, after), ...sampler.peaks() };
  let errors: number;
  if (scenario.kind === 'closed') {
    const parsed = parseWrk(output);
    if (!parsed.ok) return failure(parsed.error);
    const { rps, latencyMs, transferBytesPerS } = parsed.value;
    Object.assign(metrics, { rps, mibps: transferBytesPerS / 1024 / 1024 });
    for (const p of ['p50', 'p90', 'p99'] as const) if (latencyMs[p] !== undefined) metrics[p] = latencyMs[p];
    errors = parsed.value.errors;
  } else if (scenario.kind === 'paced' && ctx.pacer === 'hey') {
    const parsed = parseHey(output);
    if (!parsed.ok) return failure(parsed.error);
    metrics['rps'] = parsed.value.rps;
    for (const p of ['p50', 'p90', 'p99'] as const) if (parsed.value.latencyMs[p] !== undefined) metrics[p] = parsed.value.latencyMs[p];
    errors = parsed.value.errors;
  } else {
    const parsed = parseH2load(output);
    if (!parsed.ok) return failure(parsed.error);
    const latency = latencyFromH2loadLog(readLog(logFile));
    Object.assign(metrics, { rps: parsed.value.rps, mibps: parsed.value.transferBytesPerS / 1024 / 1024 });
    if (latency) Object.assign(metrics, { p50: latency.p50, p90: latency.p90, p99: latency.p99 });
    errors = parsed.value.errors;
  }
  rmSync(logFile, { force: true });
  // A run in which nothing completed has no latency to report; zeros would skew medians.
  if (!(metrics['rps'] !== undefined && metrics['rps'] > 0)) return failure(`no request completed (${errors} errors)`);
  for (const role of ROLES) {
    const cpu = metrics[`cpu.${role}`];
    if (cpu !== undefined && metrics['rps']) metrics[`cpuPer1k.${role}`] = cpu / (metrics['rps'] / 1000);
  }
  return { ...base, metrics, errors };
}

async function idleMemory(topology: Topology): Promise<Record<string, number>> {
  await new Promise((r) => setTimeout(r, 1000));
  const metrics: Record<string, number> = {};
  for (const [role, pid] of Object.entries(topology.pids) as [Role, number][]) {
    const memory = readMemory(pid);
    if (memory) metrics[`rss.${role}`] = memory.rssKb / MB;
  }
  return metrics;
}

/** VmHWM (peak RSS over the process's life) of each role; taken once, at the end. */
export function peakMemory(topology: Topology): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [role, pid] of Object.entries(topology.pids) as [Role, number][]) {
    const memory = readMemory(pid);
    if (memory) metrics[`hwm.${role}`] = memory.hwmKb / MB;
  }
  return metrics;
}

interface Snapshot {
  readonly atMs: number;
  readonly roles: Partial<Record<Role, number>>;
  readonly ours: number;
  readonly busy: number;
}

function snapshot(pids: Partial<Record<Role, number>>, ownPids: readonly number[]): Snapshot {
  const roles: Partial<Record<Role, number>> = {};
  for (const [role, pid] of Object.entries(pids) as [Role, number][]) {
    const ticks = readPidTicks(pid);
    if (ticks !== undefined) roles[role] = ticks;
  }
  const ours = ownPids.reduce((sum, pid) => sum + (readPidTicks(pid) ?? 0), readSelfTicks());
  return { atMs: performance.now(), roles, ours, busy: readBusyTicks().get('cpu') ?? 0 };
}

/** CPU as a fraction of one core per role, and the cores that processes we did not start
 * used meanwhile (the noise on a shared machine). */
function cpuMetrics(before: Snapshot, after: Snapshot): Record<string, number> {
  const seconds = (after.atMs - before.atMs) / 1000;
  const cores = (ticks: number) => ticks / CLOCK_TICKS_PER_S / seconds;
  const metrics: Record<string, number> = { otherLoad: Math.max(0, cores(after.busy - before.busy - (after.ours - before.ours))) };
  for (const role of ROLES) {
    const a = before.roles[role];
    const b = after.roles[role];
    if (a !== undefined && b !== undefined) metrics[`cpu.${role}`] = cores(b - a);
  }
  return metrics;
}

/** Samples VmRSS of each role every 250 ms and keeps the highest. */
class RssSampler {
  readonly #pids: Partial<Record<Role, number>>;
  readonly #peak: Partial<Record<Role, number>> = {};
  readonly #timer: NodeJS.Timeout;

  constructor(pids: Partial<Record<Role, number>>) {
    this.#pids = pids;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 250);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  peaks(): Record<string, number> {
    const metrics: Record<string, number> = {};
    for (const [role, kb] of Object.entries(this.#peak)) metrics[`rssPeak.${role}`] = kb / MB;
    return metrics;
  }

  #sample(): void {
    for (const [role, pid] of Object.entries(this.#pids) as [Role, number][]) {
      const rss = readMemory(pid)?.rssKb;
      if (rss !== undefined) this.#peak[role] = Math.max(this.#peak[role] ?? 0, rss);
    }
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
