import { describe, expect, it } from 'vitest';
import type { TopologyName } from '../data-path/topology.ts';
import type { ScenarioResult } from './bench-report.ts';
import { evaluateGoals } from './goals.ts';

const one = (median: number) => ({ median, min: median, max: median, n: 1 });

function scenario(id: string, values: Partial<Record<TopologyName, Record<string, number>>>): ScenarioResult {
  const topologies: ScenarioResult['topologies'] = Object.fromEntries(
    Object.entries(values).map(([name, metrics]) => [
      name,
      { metrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, one(v)])), errors: 0, failures: [] },
    ]),
  );
  return { id, title: id, metrics: [], topologies };
}

describe('evaluateGoals', () => {
  it('compares Weft with HAProxy and reports how far a missed goal is', () => {
    const goals = evaluateGoals({
      scenarios: [
        scenario('h1-c64', { weft: { rps: 5000, 'rssPeak.a': 80, 'rssPeak.b': 95 }, haproxy: { rps: 20000 } }),
        scenario('h1-c8', { weft: { p50: 0.7 }, haproxy: { p50: 0.5 } }),
      ],
    });
    const byGoal = Object.fromEntries(goals.map((g) => [g.goal.split(' (')[0], g]));
    expect(byGoal['Saturation throughput']).toMatchObject({ measured: '0.25×', status: 'not met', gap: '2.00× off the target' });
    expect(byGoal['Closed-loop c=8 p50']).toMatchObject({ measured: '1.40×', status: 'met' });
    // The goal is per sidecar: the larger of the two counts.
    expect(byGoal['RSS per sidecar at saturation']).toMatchObject({ measured: '95.0 MB', status: 'not met' });
  });

  it('says "not measured" rather than guessing when a side is missing', () => {
    const goals = evaluateGoals({ scenarios: [scenario('h1-c64', { weft: { rps: 5000 } })] });
    expect(goals.every((g) => g.status === 'not measured')).toBe(true);
  });

  it('judges the control-plane goals at 1,000 sidecars and 10 versus 1,000 services', () => {
    const push = (sidecars: number, p99Ms: number, kbPerSidecar: number) => ({
      sidecars,
      services: sidecars / 10,
      connectS: 1,
      applyToAckMs: [p99Ms],
      p50Ms: p99Ms,
      p99Ms,
      controlPlaneRssBeforeMb: 50,
      controlPlaneRssMb: 60,
      kbPerSidecar,
      cpuMsPerSidecarConnect: 1,
      cpuMsPerSidecarPush: 0.1,
      problems: [],
    });
    const goals = evaluateGoals({
      scenarios: [],
      controlPlane: {
        pushes: [push(10, 20, 900), push(1000, 1500, 150)],
        sidecarMemory: [
          { services: 10, rssMb: 50, hwmMb: 55 },
          { services: 1000, rssMb: 80, hwmMb: 90 },
        ],
      },
    });
    const byGoal = Object.fromEntries(goals.map((g) => [g.goal, g]));
    expect(byGoal['Config push p99, apply → ACK by all 1,000 sidecars']).toMatchObject({ measured: '1500 ms', status: 'not met' });
    expect(byGoal['Control-plane RSS per connected sidecar (1,000 sidecars)']).toMatchObject({ measured: '150 KB', status: 'met' });
    expect(byGoal['Sidecar RSS with 1,000 services ÷ with 10 in the mesh']).toMatchObject({ measured: '1.60×', status: 'not met' });
  });
});
