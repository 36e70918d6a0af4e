import { describe, expect, it } from 'vitest';
import type { Sample } from '../data-path/sample.ts';
import { SCENARIOS } from '../data-path/scenarios.ts';

const WEFT_H2_UNSUPPORTED = 'n/a (not measured)';

import type { BenchReport } from './bench-report.ts';
import { aggregate } from './bench-report.ts';
import { evaluateGoals } from './goals.ts';
import { KEEP_END, KEEP_START, keptSection, renderMarkdown } from './markdown.ts';

const samples: Sample[] = [
  ...[1, 2, 3].flatMap((round): Sample[] => [
    { scenario: 'h1-c64', topology: 'direct', round, metrics: { rps: 60000 + round * 1000, p50: 0.5, p99: 1 }, errors: 0 },
    { scenario: 'h1-c64', topology: 'weft', round, metrics: { rps: 5000 + round * 100, p50: 10, p99: 20, 'cpu.a': 0.45 }, errors: 0 },
    {
      scenario: 'h1-c64',
      topology: 'haproxy',
      round,
      metrics: { rps: 19000 + round * 500, p50: 3, p99: 5, 'cpu.a': 0.3 },
      errors: round === 2 ? 4 : 0,
    },
  ]),
  { scenario: 'h2-c8x8', topology: 'weft', round: 1, metrics: {}, errors: 0, unsupported: WEFT_H2_UNSUPPORTED },
  { scenario: 'h2-c8x8', topology: 'haproxy', round: 1, metrics: { rps: 30000 }, errors: 0 },
  { scenario: 'h2-c8x8', topology: 'direct', round: 1, metrics: { rps: 60000 }, errors: 0 },
];

const report: BenchReport = {
  startedAt: '2026-11-25T10:00:00.000Z',
  elapsedS: 700,
  command: 'npm run bench',
  complete: true,
  note: 'Measured on a busy machine',
  settings: { rounds: 3, durationS: 8, warmupS: 2, loadCpus: '0', serverCpus: '1' },
  machine: { cpuModel: 'AMD EPYC', cores: 2, kernel: '6.18.44', memoryGiB: 24, loadAverage: [1.5, 1.2, 1] },
  loadAverageAfter: [2, 1.5, 1.1],
  versions: { node: 'v24.21.0', haproxy: '2.6.12', nginx: '1.22.1', wrk: '4.1.0', h2load: '1.52.0' },
  topologies: [
    { name: 'direct', label: 'direct to the app' },
    { name: 'weft', label: 'Weft sidecar pair' },
    { name: 'haproxy', label: 'HAProxy pair, mTLS' },
  ],
  weftHop: { kind: 'plaintext', why: 'mTLS lands with issue 3' },
  scenarios: aggregate(SCENARIOS, samples),
  otherLoad: { median: 0.4, min: 0.1, max: 0.9, n: 12 },
};

describe('renderMarkdown', () => {
  const md = renderMarkdown(report, evaluateGoals(report));

  it('names the machine, the versions and the noise', () => {
    expect(md).toContain('| CPU | AMD EPYC, 2 cores |');
    expect(md).toContain('| haproxy | 2.6.12 |');
    expect(md).toContain('**Measured on a busy machine**');
    expect(md).toContain('median 0.40 cores');
  });

  it('says loudly that the Weft hop is plaintext', () => {
    expect(md).toContain('**The Weft sidecar-to-sidecar hop is PLAINTEXT here** (mTLS lands with issue 3)');
  });

  it('prints medians with their spread and every ratio', () => {
    expect(md).toContain('| metric | direct | weft | haproxy | weft ÷ haproxy | weft ÷ direct | haproxy ÷ direct |');
    expect(md).toContain(
      '| throughput (req/s) | 62,000 (61,000–63,000) | 5,200 (5,100–5,300) | 20,000 (19,500–20,500) | 0.26× | 0.08× | 0.32× |',
    );
    // CPU is shown in percent of a core; direct has no proxy A.
    expect(md).toContain('| CPU proxy A (% core) | — | 45.0 | 30.0 | 1.50× | — | — |');
    expect(md).toContain('| errors (sum of rounds) | 0 | 0 | 4 |');
  });

  it('shows what Weft cannot run yet instead of failing', () => {
    expect(md).toContain(`| throughput (req/s) | 60,000 | ${WEFT_H2_UNSUPPORTED} | 30,000 | — | — | 0.50× |`);
  });

  it('lists the goals with how far a missed one is', () => {
    expect(md).toContain(
      '| Saturation throughput (h1-c64), Weft pair ÷ HAProxy pair | ≥ 0.5× | 0.26× | **not met** (1.92× off the target) |',
    );
  });

  it('carries the kept section of the previous file over verbatim', () => {
    const previous = `# old\n${KEEP_START}\n## Optimizations\n\n| pool.stream | h1-c64 | 3,500 | 6,200 | 1.77× |\n${KEEP_END}\n`;
    const next = renderMarkdown(report, [], previous);
    expect(keptSection(next)).toBe('## Optimizations\n\n| pool.stream | h1-c64 | 3,500 | 6,200 | 1.77× |');
    expect(keptSection(renderMarkdown(report, [], next))).toBe(keptSection(next));
  });

  it('starts an empty optimization log when there is none', () => {
    expect(keptSection(undefined)).toContain('| change | scenario | before | after | ratio |');
  });
});
