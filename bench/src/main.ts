// `npm run bench`: Weft side by side with a direct connection and an HAProxy pair on
// loopback, then the control plane at scale. Prints a table and writes RESULTS.md plus
// out/results.json. Owns the run's lifecycle: whatever it started is stopped by PID at
// the end, on failure, and on Ctrl-C.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ControlPlaneReport, runControlPlane } from './control-plane/run-control-plane.ts';
import { formatMetric } from './data-path/metrics.ts';
import { runDataPath } from './data-path/run-data-path.ts';
import type { Sample } from './data-path/sample.ts';
import { PEAK_SCENARIO } from './data-path/scenarios.ts';
import { startTopologies } from './data-path/start-topologies.ts';
import type { Topology } from './data-path/topology.ts';
import { type BenchOptions, parseOptions, USAGE } from './options.ts';
import type { WeftHop } from './peers/weft-pair.ts';
import { BASELINE_HEADER, compareWithBaseline } from './report/baseline.ts';
import { aggregate, type BenchReport } from './report/bench-report.ts';
import { columns, consoleReport } from './report/console-table.ts';
import { evaluateGoals } from './report/goals.ts';
import { renderMarkdown } from './report/markdown.ts';
import { spread } from './stats.ts';
import { ensureTools } from './system/install.ts';
import { machineInfo, toolVersions } from './system/machine.ts';
import { OwnedProcesses } from './system/owned-processes.ts';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(BENCH_DIR, 'out');
const RESULTS_MD = join(BENCH_DIR, 'RESULTS.md');

const parsed = parseOptions(process.argv.slice(2));
if (!parsed.ok) {
  for (const error of parsed.error) console.error(`bench: ${error}`);
  console.error(`\n${USAGE}`);
  process.exit(2);
}
if (parsed.value.help) {
  console.log(USAGE);
  process.exit(0);
}
process.exitCode = await main(parsed.value);

async function main(options: BenchOptions): Promise<number> {
  const say = (line: string) => console.log(line);
  const processes = new OwnedProcesses();
  const tmp = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const logDir = join(OUT_DIR, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const cpuProfDir = options.cpuProf ? join(OUT_DIR, 'profiles') : undefined;
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      processes.killAllNow();
      process.exit(130);
    }
    interrupted = true;
    console.error(`\nbench: ${signal}; stopping what the bench started (again to kill at once)`);
    void processes.stopAll(2000).finally(() => {
      if (!options.keep) rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => processes.killAllNow());

  const started = Date.now();
  try {
    if (options.install) ensureTools(say);
    const machine = machineInfo();
    const versions = toolVersions();
    say(`bench: ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverage.join(' ')}; node ${versions['node']}`);
    say(`bench: about ${Math.ceil(estimateS(options) / 60)} min; logs in ${relative(process.cwd(), logDir) || logDir}`);

    let samples: Sample[] = [];
    let topologies: readonly Topology[] = [];
    let weftHop: WeftHop | undefined;
    if (options.scenarios.length > 0 && options.topologies.length > 0) {
      const grpcBodyFile = join(tmp, 'www', 'grpc-empty.bin');
      const startedTopologies = await startTopologies(
        processes,
        options.topologies,
        { dir: tmp, logDir, serverCpus: options.serverCpus, weftSecurity: options.weftSecurity, cpuProfDir },
        say,
      );
      topologies = startedTopologies.topologies;
      weftHop = startedTopologies.weftHop;
      if (weftHop?.kind === 'plaintext') say(`bench: NOTE the Weft hop is PLAINTEXT (${weftHop.why})`);
      samples = await runDataPath(
        processes,
        topologies,
        options.scenarios,
        {
          rounds: options.rounds,
          durationS: options.durationS,
          warmupS: options.warmupS,
          loadCpus: options.loadCpus,
          tmpDir: tmp,
          grpcBodyFile,
          pacer: options.pacer,
          ownPids: () => processes.pids(),
        },
        (sample) => say(progressLine(sample, options.rounds)),
      );
      // Profiles are written when the sidecars exit; the control-plane part needs the cores.
      await processes.stopAll();
    }

    let controlPlane: ControlPlaneReport | undefined;
    if (options.sidecarCounts.length > 0 || options.serviceCounts.length > 0) {
      controlPlane = await runControlPlane(
        processes,
        {
          dir: tmp,
          logDir,
          serverCpus: options.serverCpus,
          loadCpus: options.loadCpus,
          cpuProfDir,
          sidecarCounts: options.sidecarCounts,
          applies: options.applies,
          serviceCounts: options.serviceCounts,
        },
        say,
      );
    }

    const report: BenchReport = {
      startedAt: new Date(started).toISOString(),
      elapsedS: (Date.now() - started) / 1000,
      command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2).map(shellQuote)] : [])].join(' '),
      complete: options.complete,
      note: options.note,
      settings: {
        rounds: options.rounds,
        durationS: options.durationS,
        warmupS: options.warmupS,
        loadCpus: options.loadCpus,
        serverCpus: options.serverCpus,
      },
      machine,
      loadAverageAfter: loadavg().map((n) => Math.round(n * 100) / 100),
      versions,
      topologies: topologies.map((t) => ({ name: t.name, label: t.label })),
      weftHop,
      scenarios: aggregate([...options.scenarios, PEAK_SCENARIO], samples),
      controlPlane,
      otherLoad: spread(samples.flatMap((s) => (s.metrics['otherLoad'] === undefined ? [] : [s.metrics['otherLoad']]))),
    };
    const goals = evaluateGoals(report);
    say(consoleReport(report, goals));

    mkdirSync(OUT_DIR, { recursive: true });
    writeFileSync(join(OUT_DIR, 'results.json'), `${JSON.stringify({ ...report, goals, samples }, null, 2)}\n`);
    const markdownFile = options.results ?? (options.complete ? RESULTS_MD : join(OUT_DIR, 'RESULTS.partial.md'));
    const previous = existsSync(markdownFile)
      ? readFileSync(markdownFile, 'utf8')
      : existsSync(RESULTS_MD)
        ? readFileSync(RESULTS_MD, 'utf8')
        : undefined;
    writeFileSync(markdownFile, renderMarkdown(report, goals, previous));
    say(`\nbench: wrote ${relative(process.cwd(), markdownFile)} and ${relative(process.cwd(), join(OUT_DIR, 'results.json'))}`);
    if (cpuProfDir) say(`bench: CPU profiles in ${relative(process.cwd(), cpuProfDir)} (open in Chrome DevTools or speedscope)`);

    if (options.baseline) {
      const baseline = JSON.parse(readFileSync(options.baseline, 'utf8')) as BenchReport;
      say(`\nAgainst ${options.baseline}:\n${columns(BASELINE_HEADER, compareWithBaseline(report, baseline))}`);
    }
    return 0;
  } catch (error) {
    if (interrupted) return 130;
    console.error(`\nbench failed: ${(error as Error).stack ?? error}`);
    console.error(`logs: ${logDir}`);
    return 1;
  } finally {
    await processes.stopAll();
    if (!options.keep) rmSync(tmp, { recursive: true, force: true });
    else say(`bench: kept ${tmp}`);
  }
}

function progressLine(sample: Sample, rounds: number): string {
  const where = sample.round === 0 ? 'end' : `round ${sample.round}/${rounds}`;
  const head = `  [${where}] ${sample.scenario} ${sample.topology}:`;
  if (sample.unsupported) return `${head} ${sample.unsupported}`;
  if (sample.failure) return `${head} FAILED ${sample.failure.split('\n')[0]}`;
  const m = sample.metrics;
  const parts: string[] = [];
  if (m['rps'] !== undefined) parts.push(`${formatMetric('rps', m['rps'])} req/s`);
  for (const p of ['p50', 'p99']) if (m[p] !== undefined) parts.push(`${p} ${formatMetric(p, m[p])} ms`);
  for (const role of ['a', 'b', 'app'])
    if (m[`cpu.${role}`] !== undefined) parts.push(`cpu ${role} ${formatMetric(`cpu.${role}`, m[`cpu.${role}`] as number)}%`);
  for (const [key, value] of Object.entries(m)) if (/^(rss|hwm)\./.test(key)) parts.push(`${key} ${value.toFixed(1)} MB`);
  if (sample.errors > 0) parts.push(`${sample.errors} ERRORS`);
  if (m['otherLoad'] !== undefined) parts.push(`(others ${m['otherLoad'].toFixed(2)} cores)`);
  return `${head} ${parts.join(', ')}`;
}

/** Rough wall time of the run, for the first line it prints. */
function estimateS(options: BenchOptions): number {
  let runs = 0;
  for (const scenario of options.scenarios) {
    if (scenario.kind === 'idle') continue;
    runs += options.topologies.length;
  }
  const dataPath = runs * options.rounds * (options.durationS + options.warmupS + 0.5) + 15;
  const controlPlane =
    options.sidecarCounts.reduce((sum, n) => sum + 5 + n / 50 + options.applies * 0.5, 0) +
    options.serviceCounts.reduce((sum, n) => sum + 8 + n / 50, 0);
  return dataPath + controlPlane;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./*-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
