// Every number a data-path sample can carry, with its unit and which direction is better,
// so tables and ratios are rendered the same way everywhere. Keys with a role suffix
// (`cpu.a`) exist once per measured process.
import type { Role } from './topology.ts';

export interface MetricSpec {
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** Decimal places when printed. */
  readonly digits: number;
}

const ROLE_LABEL: Record<Role, string> = { a: 'proxy A', b: 'proxy B', app: 'app' };

const BASE: Record<string, MetricSpec> = {
  rps: { label: 'throughput', unit: 'req/s', better: 'higher', digits: 0 },
  p50: { label: 'p50', unit: 'ms', better: 'lower', digits: 3 },
  p90: { label: 'p90', unit: 'ms', better: 'lower', digits: 3 },
  p99: { label: 'p99', unit: 'ms', better: 'lower', digits: 3 },
  mibps: { label: 'transfer', unit: 'MiB/s', better: 'higher', digits: 1 },
  otherLoad: { label: 'other processes', unit: 'cores', better: 'lower', digits: 2 },
};

const PER_ROLE: Record<string, (role: string) => MetricSpec> = {
  cpu: (r) => ({ label: `CPU ${r}`, unit: '% core', better: 'lower', digits: 1 }),
  cpuPer1k: (r) => ({ label: `CPU per 1k req/s ${r}`, unit: 'cores', better: 'lower', digits: 3 }),
  rss: (r) => ({ label: `RSS idle ${r}`, unit: 'MB', better: 'lower', digits: 1 }),
  rssPeak: (r) => ({ label: `RSS under load ${r}`, unit: 'MB', better: 'lower', digits: 1 }),
  hwm: (r) => ({ label: `peak RSS (VmHWM) ${r}`, unit: 'MB', better: 'lower', digits: 1 }),
};

export function metricSpec(key: string): MetricSpec {
  const base = BASE[key];
  if (base) return base;
  const [kind, role] = key.split('.') as [string, Role | undefined];
  const perRole = PER_ROLE[kind];
  if (perRole && role && role in ROLE_LABEL) return perRole(ROLE_LABEL[role]);
  return { label: key, unit: '', better: 'lower', digits: 2 };
}

/** The value as printed: CPU fractions as percent of one core. */
export function formatMetric(key: string, value: number): string {
  const spec = metricSpec(key);
  const shown = key.startsWith('cpu.') ? value * 100 : value;
  return shown.toLocaleString('en-US', { minimumFractionDigits: spec.digits, maximumFractionDigits: spec.digits });
}
