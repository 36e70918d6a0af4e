import { describe, expect, it } from 'vitest';
import { parseOptions } from './options.ts';

const ok = (argv: string[]) => {
  const result = parseOptions(argv);
  if (!result.ok) throw new Error(result.error.join('\n'));
  return result.value;
};

describe('parseOptions', () => {
  it('defaults to the complete run: 3 rounds of 8 s, every scenario and topology, up to 1,000 sidecars', () => {
    const options = ok([]);
    expect(options).toMatchObject({ rounds: 3, durationS: 8, warmupS: 2, applies: 10, loadCpus: '0', serverCpus: '1', complete: true });
    expect(options.topologies).toEqual(['direct', 'weft', 'haproxy']);
    expect(options.sidecarCounts).toEqual([10, 100, 1000]);
    expect(options.serviceCounts).toEqual([10, 1000]);
    expect(options.scenarios.map((s) => s.id)).toContain('grpc-c8x8');
  });

  it('--quick shortens everything and is not a complete run', () => {
    const options = ok(['--quick']);
    expect(options).toMatchObject({ rounds: 1, durationS: 2, warmupS: 1, applies: 3, complete: false });
    expect(options.sidecarCounts).toEqual([10, 100]);
  });

  it('--only selects data-path scenarios and control-plane sizes by id or glob', () => {
    const options = ok(['--only', 'h1-c64,cp-push-1000', '--rounds', '1']);
    expect(options.scenarios.map((s) => s.id)).toEqual(['h1-c64']);
    expect(options.sidecarCounts).toEqual([1000]);
    expect(options.serviceCounts).toEqual([]);
    expect(options.rounds).toBe(1);
    expect(options.complete).toBe(false);
    expect(ok(['--only', 'h1-*']).scenarios.map((s) => s.id)).toEqual(['h1-c64', 'h1-c8', 'h1-paced-1k', 'h1-1k-c64', 'h1-64k-c64']);
  });

  it('"none" turns pinning off', () => {
    expect(ok(['--load-cpus', 'none', '--server-cpus', '2-3'])).toMatchObject({ loadCpus: undefined, serverCpus: '2-3' });
  });

  it('names every bad flag', () => {
    const result = parseOptions(['--rounds', '0', '--topologies', 'weft,envoy', '--only', 'nothing', '--server-cpus', 'one']);
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.error;
    expect(errors).toHaveLength(4);
    for (const flag of ['--rounds', '--topologies', '--only', '--server-cpus']) expect(errors.join('\n')).toContain(flag);
  });

  it('refuses unknown flags', () => {
    const result = parseOptions(['--fast']);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error[0]).toContain('--fast');
  });
});
