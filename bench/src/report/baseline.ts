// Before/after: each median of this run against the same median of an earlier run's
// results.json, for recording an optimization (issue 7, item 4) with its ratio.
import { formatMetric } from '../data-path/metrics.ts';
import type { TopologyName } from '../data-path/topology.ts';
import { ratio } from '../stats.ts';
import type { BenchReport } from './bench-report.ts';
import { formatRatio, metricLabel } from './cells.ts';

export const BASELINE_HEADER = ['scenario', 'topology', 'metric', 'before', 'after', 'after ÷ before'];

export function compareWithBaseline(current: Pick<BenchReport, 'scenarios'>, baseline: Pick<BenchReport, 'scenarios'>): string[][] {
  const rows: string[][] = [];
  for (const scenario of current.scenarios) {
    const before = baseline.scenarios.find((s) => s.id === scenario.id);
    if (!before) continue;
    for (const [topology, result] of Object.entries(scenario.topologies) as [TopologyName, (typeof scenario.topologies)[TopologyName]][]) {
      for (const key of scenario.metrics) {
        const after = result?.metrics[key]?.median;
        const was = before.topologies[topology]?.metrics[key]?.median;
        if (after === undefined || was === undefined) continue;
        rows.push([
          scenario.id,
          topology,
          metricLabel(key),
          formatMetric(key, was),
          formatMetric(key, after),
          formatRatio(ratio(after, was)),
        ]);
      }
    }
  }
  return rows;
}
