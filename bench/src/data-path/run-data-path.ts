// The data-path part of the bench: every selected scenario against every topology, round
// after round. Within a round each scenario runs on all topologies back to back (in an
// order that rotates per round), so they share the same moment's noise.
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { type MeasureContext, measure, peakMemory } from './measure.ts';
import type { Sample } from './sample.ts';
import { PEAK_SCENARIO, type Scenario } from './scenarios.ts';
import type { Topology } from './topology.ts';

export interface DataPathOptions extends Omit<MeasureContext, 'processes'> {
  readonly rounds: number;
}

export async function runDataPath(
  processes: OwnedProcesses,
  topologies: readonly Topology[],
  scenarios: readonly Scenario[],
  options: DataPathOptions,
  onSample: (sample: Sample) => void,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const ctx: MeasureContext = { ...options, processes };
  for (let round = 1; round <= options.rounds; round++) {
    for (const scenario of scenarios) {
      if (scenario.kind === 'idle' && round > 1) continue;
      for (const topology of rotate(topologies, round - 1)) {
        const sample = await measure(scenario, topology, round, ctx);
        samples.push(sample);
        onSample(sample);
      }
    }
  }
  for (const topology of topologies) {
    const sample: Sample = { scenario: PEAK_SCENARIO.id, topology: topology.name, round: 0, metrics: peakMemory(topology), errors: 0 };
    samples.push(sample);
    onSample(sample);
  }
  return samples;
}

export function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
