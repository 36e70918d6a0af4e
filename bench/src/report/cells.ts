// The rows both renderers (terminal and Markdown) print for the data path: one row per
// metric with each topology's median (min–max) and the ratios against HAProxy and direct.
import { formatMetric, metricSpec } from '../data-path/metrics.ts';
import type { TopologyName } from '../data-path/topology.ts';
import { ratio, type Spread } from '../stats.ts';
import type { ScenarioResult } from './bench-report.ts';

export const RATIOS: readonly { readonly label: string; readonly of: TopologyName; readonly to: TopologyName }[] = [
  { label: 'weft ÷ haproxy', of: 'weft', to: 'haproxy' },
  { label: 'weft ÷ direct', of: 'weft', to: 'direct' },
  { label: 'haproxy ÷ direct', of: 'haproxy', to: 'direct' },
];

export function formatSpread(key: string, s: Spread | undefined): string {
  if (!s) return '—';
  if (s.n === 1 || s.min === s.max) return formatMetric(key, s.median);
  return `${formatMetric(key, s.median)} (${formatMetric(key, s.min)}–${formatMetric(key, s.max)})`;
}

export function formatRatio(value: number | undefined): string {
  return value === undefined ? '—' : `${value.toFixed(2)}×`;
}

export function metricLabel(key: string): string {
  const spec = metricSpec(key);
  return spec.unit ? `${spec.label} (${spec.unit})` : spec.label;
}

/** Header and rows of one scenario's table, for the topologies that ran. */
export function scenarioRows(scenario: ScenarioResult, topologies: readonly TopologyName[]): { header: string[]; rows: string[][] } {
  const ratios = RATIOS.filter((r) => topologies.includes(r.of) && topologies.includes(r.to));
  const header = ['metric', ...topologies, ...ratios.map((r) => r.label)];
  const rows: string[][] = [];
  for (const key of scenario.metrics) {
    const cells = topologies.map((t) => {
      const result = scenario.topologies[t];
      if (!result) return '—';
      if (result.unsupported) return result.unsupported;
      return formatSpread(key, result.metrics[key]);
    });
    const median = (t: TopologyName) => scenario.topologies[t]?.metrics[key]?.median;
    // Every topology lacks this metric (direct has no proxies): leave the row out.
    if (cells.every((c) => c === '—')) continue;
    rows.push([metricLabel(key), ...cells, ...ratios.map((r) => formatRatio(ratio(median(r.of), median(r.to))))]);
  }
  const errors = topologies.map((t) => scenario.topologies[t]?.errors ?? 0);
  if (errors.some((e) => e > 0)) rows.push(['errors (sum of rounds)', ...errors.map(String), ...ratios.map(() => '')]);
  return { header, rows };
}
