// The goals of issue 7 and whether this run meets them. Each says what was compared, the
// target, the number measured, and when it misses, by how much.
import { ratio } from '../stats.ts';
import { type BenchReport, medianOf } from './bench-report.ts';

export type GoalStatus = 'met' | 'not met' | 'not measured';

export interface GoalResult {
  readonly goal: string;
  readonly target: string;
  readonly measured: string;
  readonly status: GoalStatus;
  /** How far from the target, when not met. */
  readonly gap?: string;
}

type Report = Pick<BenchReport, 'scenarios' | 'controlPlane'>;

interface Check {
  readonly goal: string;
  readonly target: string;
  readonly limit: number;
  readonly kind: 'at least' | 'at most';
  readonly value: (r: Report) => number | undefined;
  readonly show: (v: number) => string;
}

const times = (v: number) => `${v.toFixed(2)}×`;
const SATURATION = ['h1-c64', 'h1-1k-c64', 'h1-64k-c64'];

/** The larger of the two Weft sidecars' medians (the goals are per sidecar). */
function worstSidecar(r: Report, scenario: string, metric: 'cpuPer1k' | 'rss' | 'rssPeak'): number | undefined {
  const values = (['a', 'b'] as const).flatMap((role) => medianOf(r, scenario, 'weft', `${metric}.${role}`) ?? []);
  return values.length > 0 ? Math.max(...values) : undefined;
}

function versusHaproxy(scenario: string, metric: string) {
  return (r: Report) => ratio(medianOf(r, scenario, 'weft', metric), medianOf(r, scenario, 'haproxy', metric));
}

const CHECKS: readonly Check[] = [
  {
    goal: 'Saturation throughput (h1-c64), Weft pair ÷ HAProxy pair',
    target: '≥ 0.5×',
    limit: 0.5,
    kind: 'at least',
    value: versusHaproxy('h1-c64', 'rps'),
    show: times,
  },
  {
    goal: 'Closed-loop c=8 p50 (h1-c8), Weft ÷ HAProxy',
    target: '≤ 1.5×',
    limit: 1.5,
    kind: 'at most',
    value: versusHaproxy('h1-c8', 'p50'),
    show: times,
  },
  {
    goal: 'Paced 1,000 req/s p50 (h1-paced-1k), Weft ÷ HAProxy',
    target: '≤ 1.2×',
    limit: 1.2,
    kind: 'at most',
    value: versusHaproxy('h1-paced-1k', 'p50'),
    show: times,
  },
  {
    goal: 'Paced 1,000 req/s p99 (h1-paced-1k), Weft ÷ HAProxy',
    target: '≤ 1.5×',
    limit: 1.5,
    kind: 'at most',
    value: versusHaproxy('h1-paced-1k', 'p99'),
    show: times,
  },
  {
    goal: 'CPU per 1,000 req/s per sidecar (h1-paced-1k, busier sidecar)',
    target: '≤ 0.10 core',
    limit: 0.1,
    kind: 'at most',
    value: (r) => worstSidecar(r, 'h1-paced-1k', 'cpuPer1k'),
    show: (v) => `${v.toFixed(3)} core`,
  },
  {
    goal: 'RSS per sidecar, idle (fresh, larger sidecar)',
    target: '≤ 60 MB',
    limit: 60,
    kind: 'at most',
    value: (r) => worstSidecar(r, 'idle', 'rss'),
    show: (v) => `${v.toFixed(1)} MB`,
  },
  {
    goal: 'RSS per sidecar at saturation (peak during the c=64 runs, larger sidecar)',
    target: '≤ 90 MB',
    limit: 90,
    kind: 'at most',
    value: (r) => {
      const values = SATURATION.flatMap((s) => worstSidecar(r, s, 'rssPeak') ?? []);
      return values.length > 0 ? Math.max(...values) : undefined;
    },
    show: (v) => `${v.toFixed(1)} MB`,
  },
  {
    goal: 'Sidecar RSS with 1,000 services ÷ with 10 in the mesh',
    target: '≤ 1.10× (flat within 10 %)',
    limit: 1.1,
    kind: 'at most',
    value: (r) => {
      const memory = r.controlPlane?.sidecarMemory ?? [];
      return ratio(memory.find((m) => m.services === 1000)?.rssMb, memory.find((m) => m.services === 10)?.rssMb);
    },
    show: times,
  },
  {
    goal: 'Config push p99, apply → ACK by all 1,000 sidecars',
    target: '≤ 1 s',
    limit: 1000,
    kind: 'at most',
    value: (r) => r.controlPlane?.pushes.find((p) => p.sidecars === 1000)?.p99Ms,
    show: (v) => `${v.toFixed(0)} ms`,
  },
  {
    goal: 'Control-plane RSS per connected sidecar (1,000 sidecars)',
    target: '≤ 200 KB',
    limit: 200,
    kind: 'at most',
    value: (r) => r.controlPlane?.pushes.find((p) => p.sidecars === 1000)?.kbPerSidecar,
    show: (v) => `${v.toFixed(0)} KB`,
  },
];

export function evaluateGoals(report: Report): GoalResult[] {
  return CHECKS.map((check) => {
    const value = check.value(report);
    const base = { goal: check.goal, target: check.target };
    if (value === undefined || !Number.isFinite(value)) return { ...base, measured: '—', status: 'not measured' as const };
    const met = check.kind === 'at least' ? value >= check.limit : value <= check.limit;
    if (met) return { ...base, measured: check.show(value), status: 'met' as const };
    const factor = check.kind === 'at least' ? check.limit / value : value / check.limit;
    return { ...base, measured: check.show(value), status: 'not met' as const, gap: `${factor.toFixed(2)}× off the target` };
  });
}
