// The command line of `npm run bench`, validated once: every problem names its flag.
// Defaults give the full run (3 rounds, every scenario, control plane up to 1,000
// sidecars, under 15 minutes); --quick and --only make short runs for development.
import { parseArgs } from 'node:util';
import { matchIds, PEAK_SCENARIO, SCENARIOS, type Scenario } from './data-path/scenarios.ts';
import { TOPOLOGY_NAMES, type TopologyName } from './data-path/topology.ts';
import type { WeftSecurity } from './peers/weft-pair.ts';
import type { Result } from './result.ts';

export interface BenchOptions {
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly scenarios: readonly Scenario[];
  readonly topologies: readonly TopologyName[];
  /** Fleet sizes of the config-push measurement (ids cp-push-N). */
  readonly sidecarCounts: readonly number[];
  /** Mesh sizes of the sidecar-memory measurement (ids sidecar-memory-N). */
  readonly serviceCounts: readonly number[];
  readonly applies: number;
  readonly loadCpus: string | undefined;
  readonly serverCpus: string | undefined;
  readonly weftSecurity: WeftSecurity;
  readonly pacer: 'h2load' | 'hey';
  readonly cpuProf: boolean;
  readonly install: boolean;
  readonly keep: boolean;
  readonly quick: boolean;
  /** Where the Markdown goes; undefined: RESULTS.md for a complete run, else out/. */
  readonly results: string | undefined;
  readonly baseline: string | undefined;
  readonly note: string | undefined;
  /** Every scenario, topology and size of the default run was selected. */
  readonly complete: boolean;
  readonly help: boolean;
}

export const USAGE = `npm run bench -- [options]

  --quick                 short runs for development: 2 s per scenario, 1 s warm-up, 1 round,
                          control plane at 10 and 100 sidecars, meshes of 10 and 100 services
  --only LIST             comma-separated ids or globs: ${[...SCENARIOS.map((s) => s.id), 'cp-push-N', 'sidecar-memory-N'].join(', ')}
                          (e.g. --only h1-c64, --only 'h1-*,cp-push-1000')
  --topologies LIST       direct,weft,haproxy (default all three)
  --rounds N              rounds, interleaved (default 3; 1 with --quick)
  --duration S            seconds measured per scenario (default 8; 2 with --quick)
  --warmup S              seconds of the same load before each measurement (default 2; 1 with --quick)
  --cp-sizes LIST         simulated sidecars for the config push (default 10,100,1000)
  --mesh-sizes LIST       services in the mesh for the sidecar memory (default 10,1000)
  --applies N             applies per fleet size (default 10; 3 with --quick)
  --load-cpus CPUS        taskset CPUs of the load generator (default 0; "none" to not pin)
  --server-cpus CPUS      taskset CPUs of proxies, app and control plane (default 1; "none")
  --weft-security MODE    mtls (default) or plaintext (the app Service with mtls: disabled):
                          the sidecar-to-sidecar hop
  --pacer TOOL            h2load (default; µs latencies) or hey (0.1 ms) for h1-paced-1k
  --cpu-prof              write V8 CPU profiles of the Weft processes to bench/out/profiles/
  --results FILE          write the Markdown here (default: bench/RESULTS.md for a complete
                          run, bench/out/RESULTS.partial.md otherwise)
  --baseline FILE         an earlier bench/out/results.json: print each median against it
  --note TEXT             a line for the top of the results (e.g. "quiet machine")
  --skip-install          do not apt-get install missing tools
  --keep                  keep the temp dir (configs, certificates) after the run
  -h, --help`;

/** The layout every bench uses: the load generator on CPU 0, proxies, app and control plane
 * on CPU 1 (bench/floor and bench/ab keep it too). */
export const DEFAULT_LOAD_CPUS = '0';
export const DEFAULT_SERVER_CPUS = '1';

const DEFAULT_CP_SIZES = [10, 100, 1000];
const DEFAULT_MESH_SIZES = [10, 1000];
const QUICK_SIZES = [10, 100];

export function parseOptions(argv: readonly string[]): Result<BenchOptions, string[]> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return { ok: false, error: [(error as Error).message] };
  }
  const v = parsed.values;
  const errors: string[] = [];
  const quick = v.quick === true;
  const number = (flag: string, text: string | undefined, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) errors.push(`--${flag}: "${text}" must be a whole number ≥ ${min}`);
    return n;
  };
  const sizes = (flag: string, text: string | undefined, fallback: number[]): number[] => {
    if (text === undefined) return fallback;
    const list = text.split(',').map((s) => Number(s.trim()));
    if (list.some((n) => !Number.isInteger(n) || n < 1)) errors.push(`--${flag}: "${text}" must be whole numbers ≥ 1, comma-separated`);
    return list;
  };
  const cpus = (flag: string, text: string | undefined, fallback: string): string | undefined => {
    const value = text ?? fallback;
    if (value === 'none') return undefined;
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) errors.push(`--${flag}: "${value}" is not a CPU list like 0, 1 or 2-3 (or none)`);
    return value;
  };

  let sidecarCounts = sizes('cp-sizes', v['cp-sizes'], quick ? QUICK_SIZES : DEFAULT_CP_SIZES);
  let serviceCounts = sizes('mesh-sizes', v['mesh-sizes'], quick ? QUICK_SIZES : DEFAULT_MESH_SIZES);
  let scenarios: readonly Scenario[] = SCENARIOS;
  if (v.only !== undefined) {
    const patterns = v.only
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const cpIds = sidecarCounts.map((n) => `cp-push-${n}`);
    const memoryIds = serviceCounts.map((n) => `sidecar-memory-${n}`);
    const ids = new Set(matchIds([...SCENARIOS.map((s) => s.id), PEAK_SCENARIO.id, ...cpIds, ...memoryIds], patterns));
    if (ids.size === 0)
      errors.push(`--only: "${v.only}" matches nothing; ids are ${[...SCENARIOS.map((s) => s.id), ...cpIds, ...memoryIds].join(', ')}`);
    scenarios = SCENARIOS.filter((s) => ids.has(s.id));
    sidecarCounts = sidecarCounts.filter((n) => ids.has(`cp-push-${n}`));
    serviceCounts = serviceCounts.filter((n) => ids.has(`sidecar-memory-${n}`));
  }

  let topologies: TopologyName[] = [...TOPOLOGY_NAMES];
  if (v.topologies !== undefined) {
    const names = v.topologies.split(',').map((t) => t.trim());
    const unknown = names.filter((t) => !(TOPOLOGY_NAMES as readonly string[]).includes(t));
    if (unknown.length > 0) errors.push(`--topologies: unknown ${unknown.join(', ')}; choose from ${TOPOLOGY_NAMES.join(', ')}`);
    topologies = TOPOLOGY_NAMES.filter((t) => names.includes(t));
  }

  const pacer = v.pacer ?? 'h2load';
  if (pacer !== 'h2load' && pacer !== 'hey') errors.push(`--pacer: "${pacer}" must be h2load or hey`);
  const security = v['weft-security'] ?? 'mtls';
  if (!['plaintext', 'mtls'].includes(security)) errors.push(`--weft-security: "${security}" must be mtls or plaintext`);

  const options: BenchOptions = {
    rounds: number('rounds', v.rounds, quick ? 1 : 3, 1),
    durationS: number('duration', v.duration, quick ? 2 : 8, 1),
    warmupS: number('warmup', v.warmup, quick ? 1 : 2, 0),
    scenarios,
    topologies,
    sidecarCounts,
    serviceCounts,
    applies: number('applies', v.applies, quick ? 3 : 10, 1),
    loadCpus: cpus('load-cpus', v['load-cpus'], DEFAULT_LOAD_CPUS),
    serverCpus: cpus('server-cpus', v['server-cpus'], DEFAULT_SERVER_CPUS),
    weftSecurity: security as WeftSecurity,
    pacer: pacer as BenchOptions['pacer'],
    cpuProf: v['cpu-prof'] === true,
    install: v['skip-install'] !== true,
    keep: v.keep === true,
    quick,
    results: v.results,
    baseline: v.baseline,
    note: v.note,
    complete: !quick && v.only === undefined && v.topologies === undefined && v['cp-sizes'] === undefined && v['mesh-sizes'] === undefined,
    help: v.help === true,
  };
  return errors.length > 0 ? { ok: false, error: errors } : { ok: true, value: options };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      topologies: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'cp-sizes': { type: 'string' },
      'mesh-sizes': { type: 'string' },
      applies: { type: 'string' },
      'load-cpus': { type: 'string' },
      'server-cpus': { type: 'string' },
      'weft-security': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      pacer: { type: 'string' },
      results: { type: 'string' },
      baseline: { type: 'string' },
      note: { type: 'string' },
      'skip-install': { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
