// Everything one run measured, in the shape the table, RESULTS.md and results.json share:
// per scenario and topology, the median and spread of each metric over the rounds.
import type { ControlPlaneReport } from '../control-plane/run-control-plane.ts';
import type { Sample } from '../data-path/sample.ts';
import type { Scenario } from '../data-path/scenarios.ts';
import type { TopologyName } from '../data-path/topology.ts';
import type { WeftHop } from '../peers/weft-pair.ts';
import { type Spread, spread } from '../stats.ts';
import type { MachineInfo, Versions } from '../system/machine.ts';

export interface TopologyResult {
  readonly metrics: Readonly<Record<string, Spread>>;
  /** Errors summed over the rounds. */
  readonly errors: number;
  readonly unsupported?: string;
  readonly failures: readonly string[];
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** The metrics tables show, in order. */
  readonly metrics: readonly string[];
  readonly topologies: Readonly<Partial<Record<TopologyName, TopologyResult>>>;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly elapsedS: number;
  readonly command: string;
  readonly complete: boolean;
  readonly note?: string | undefined;
  readonly settings: {
    readonly rounds: number;
    readonly durationS: number;
    readonly warmupS: number;
    readonly loadCpus: string | undefined;
    readonly serverCpus: string | undefined;
  };
  readonly machine: MachineInfo;
  readonly loadAverageAfter: readonly number[];
  readonly versions: Versions;
  readonly topologies: readonly { readonly name: TopologyName; readonly label: string }[];
  readonly weftHop?: WeftHop | undefined;
  readonly scenarios: readonly ScenarioResult[];
  readonly controlPlane?: ControlPlaneReport | undefined;
  /** Cores used by processes the bench did not start, over all measurements. */
  readonly otherLoad?: Spread | undefined;
}

/** Groups samples by scenario and topology and summarises each metric over the rounds. */
export function aggregate(scenarios: readonly Scenario[], samples: readonly Sample[]): ScenarioResult[] {
  return scenarios.flatMap((scenario) => {
    const mine = samples.filter((s) => s.scenario === scenario.id);
    if (mine.length === 0) return [];
    const topologies: Partial<Record<TopologyName, TopologyResult>> = {};
    for (const name of [...new Set(mine.map((s) => s.topology))]) {
      const runs = mine.filter((s) => s.topology === name);
      const keys = [...new Set(runs.flatMap((s) => Object.keys(s.metrics)))];
      const metrics: Record<string, Spread> = {};
      for (const key of keys) {
        const summary = spread(runs.map((s) => s.metrics[key] ?? Number.NaN));
        if (summary) metrics[key] = summary;
      }
      const unsupported = runs.find((s) => s.unsupported)?.unsupported;
      topologies[name] = {
        metrics,
        errors: runs.reduce((sum, s) => sum + s.errors, 0),
        failures: runs.flatMap((s) => (s.failure ? [`round ${s.round}: ${s.failure}`] : [])),
        ...(unsupported ? { unsupported } : {}),
      };
    }
    return [{ id: scenario.id, title: scenario.title, metrics: scenario.metrics, topologies }];
  });
}

/** The median of one metric, if measured. */
export function medianOf(
  report: Pick<BenchReport, 'scenarios'>,
  scenario: string,
  topology: TopologyName,
  metric: string,
): number | undefined {
  return report.scenarios.find((s) => s.id === scenario)?.topologies[topology]?.metrics[metric]?.median;
}
