import { describe, expect, it } from 'vitest';
import { compareWithBaseline } from './baseline.ts';
import type { ScenarioResult } from './bench-report.ts';

const scenario = (rps: number, p50?: number): ScenarioResult => ({
  id: 'h1-c64',
  title: 'saturation',
  metrics: ['rps', 'p50'],
  topologies: {
    weft: {
      metrics: { rps: { median: rps, min: rps, max: rps, n: 1 }, ...(p50 ? { p50: { median: p50, min: p50, max: p50, n: 1 } } : {}) },
      errors: 0,
      failures: [],
    },
  },
});

describe('compareWithBaseline', () => {
  it('gives before, after and their ratio for every median both runs have', () => {
    const rows = compareWithBaseline({ scenarios: [scenario(9000, 1.5)] }, { scenarios: [scenario(6000)] });
    expect(rows).toEqual([['h1-c64', 'weft', 'throughput (req/s)', '6,000', '9,000', '1.50×']]);
  });

  it('skips scenarios the baseline did not run', () => {
    expect(compareWithBaseline({ scenarios: [scenario(9000)] }, { scenarios: [] })).toEqual([]);
  });
});
