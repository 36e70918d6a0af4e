// bench/RESULTS.md, rewritten by every complete run: machine, versions, how it was
// measured, the goals, every number with its spread and every ratio. The section between
// the keep markers (the log of optimizations, issue 7 item 4) is carried over verbatim.
import type { TopologyName } from '../data-path/topology.ts';
import type { BenchReport } from './bench-report.ts';
import { scenarioRows } from './cells.ts';
import type { GoalResult } from './goals.ts';

export const KEEP_START = '<!-- bench:keep:start (kept verbatim when the bench rewrites this file) -->';
export const KEEP_END = '<!-- bench:keep:end -->';

const DEFAULT_KEPT = `## Optimizations

Each change to the data path, with the scenario it targets and the medians before and after
(\`npm run bench -- --only <id> --baseline bench/out/before.json\` prints the ratios).

| change | scenario | before | after | ratio |
|---|---|---|---|---|
`;

/** The kept section of an earlier RESULTS.md, or the empty log. */
export function keptSection(previous: string | undefined): string {
  if (previous) {
    const start = previous.indexOf(KEEP_START);
    const end = previous.indexOf(KEEP_END);
    if (start >= 0 && end > start) return previous.slice(start + KEEP_START.length, end).replace(/^\n+|\n+$/g, '');
  }
  return DEFAULT_KEPT.trimEnd();
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cellText = (cell: string) => cell.replaceAll('|', '\\|');
  return [
    `| ${header.map(cellText).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cellText).join(' | ')} |`),
  ].join('\n');
}

export function renderMarkdown(report: BenchReport, goals: readonly GoalResult[], previous?: string): string {
  const topologies = report.topologies.map((t) => t.name) as TopologyName[];
  const s = report.settings;
  const out: string[] = ['# Weft benchmark results', ''];

  const noisy = report.otherLoad && report.otherLoad.median >= 0.1;
  if (report.note) out.push(`> **${report.note}**`, '>');
  if (noisy && report.otherLoad) {
    out.push(
      `> Other processes used a median ${report.otherLoad.median.toFixed(2)} cores (up to ${report.otherLoad.max.toFixed(2)}) of this` +
        ` ${report.machine.cores}-core machine while it measured: the numbers are noisy. Rerun on a quiet machine before judging a ratio.`,
      '>',
    );
  }
  if (report.weftHop?.kind === 'plaintext') {
    out.push(
      `> **The Weft sidecar-to-sidecar hop is PLAINTEXT here** (${report.weftHop.why}); the HAProxy pair runs mTLS.` +
        ' Ratios against HAProxy flatter Weft until the hop is encrypted.',
      '>',
    );
  }
  if (!report.complete) out.push('> A partial run (--quick, --only or a subset of topologies): not every number below was measured.', '>');
  if (out.at(-1) === '>') out.pop();
  out.push(
    '',
    `Measured ${report.startedAt} with \`${report.command}\` in ${Math.round(report.elapsedS / 60)} min. ` +
      `Medians of ${s.rounds} round${s.rounds === 1 ? '' : 's'} (spread min–max in parentheses); ratios are of medians. ` +
      'MB = 2²⁰ bytes; CPU in % of one core.',
    '',
    '## Machine and versions',
    '',
    table(
      ['', ''],
      [
        ['CPU', `${report.machine.cpuModel}, ${report.machine.cores} cores`],
        ['kernel', report.machine.kernel],
        ['memory', `${report.machine.memoryGiB} GiB`],
        ['load average before → after', `${report.machine.loadAverage.join(' ')} → ${report.loadAverageAfter.join(' ')}`],
        ...Object.entries(report.versions).map(([tool, version]) => [tool, version]),
      ],
    ),
    '',
    '## How it was measured',
    '',
    '- Loopback only. The app is one nginx process (`return 200 "ok"`, 1 KiB and 64 KiB static files, and an h2c port with a gRPC method).',
    `- Pinned with taskset: load generator on CPU ${s.loadCpus ?? 'any (not pinned)'}, proxies, app and control plane on CPU ${s.serverCpus ?? 'any (not pinned)'}.`,
    `- Each measurement runs ${s.durationS} s after a ${s.warmupS} s warm-up at the same load; within a round every scenario runs on all topologies back to back, in an order that rotates per round.`,
    '- Load: wrk (closed loop, one thread), h2load --h1 --rps (paced; latency percentiles from its per-request log), h2load over h2c (HTTP/2, gRPC). CPU from /proc/<pid>/stat before and after, RSS from /proc/<pid>/status.',
    '- Topologies:',
    ...report.topologies.map((t) => `  - **${t.name}**: ${t.label}`),
    '',
    '## Goals (issue 7)',
    '',
    table(
      ['goal', 'target', 'measured', 'status'],
      goals.map((g) => [g.goal, g.target, g.measured, g.gap ? `**${g.status}** (${g.gap})` : g.status === 'met' ? 'met' : g.status]),
    ),
    '',
    '## Data path',
  );
  for (const scenario of report.scenarios) {
    const { header, rows } = scenarioRows(scenario, topologies);
    if (rows.length === 0) continue;
    out.push('', `### ${scenario.title} (\`${scenario.id}\`)`, '', table(header, rows));
    for (const [name, result] of Object.entries(scenario.topologies)) {
      for (const failure of result.failures) out.push('', `- ${name} failed: \`${failure.split('\n')[0]}\``);
    }
  }
  const cp = report.controlPlane;
  if (cp && (cp.pushes.length > 0 || cp.sidecarMemory.length > 0)) out.push('', '## Control plane');
  if (cp && cp.pushes.length > 0) {
    out.push(
      '',
      '### Config push: apply → ACK by every sidecar',
      '',
      'Simulated sidecars (one grpc-js connection and discovery stream each, ACKing every response) run in one process on the load CPU;',
      `the control plane on the server CPU. Ten sidecars per service; each apply changes the timeout of a Route every sidecar receives, through the admin API that \`weft apply\` calls; the time runs from the request until the last sidecar has ACKed. ${cp.pushes[0]?.applyToAckMs.length ?? 0} applies per size, so p99 is the slowest of them.`,
      '',
      table(
        [
          'sidecars',
          'services',
          'all connected and synced (s)',
          'apply → ACK p50 (ms)',
          'p99 (ms)',
          'control plane RSS before → connected (MB)',
          'RSS per sidecar (KB)',
          'CPU per sidecar, connect (ms)',
          'CPU per sidecar, per push (ms)',
        ],
        cp.pushes.map((p) => [
          String(p.sidecars),
          String(p.services),
          p.connectS.toFixed(1),
          p.p50Ms.toFixed(1),
          p.p99Ms.toFixed(1),
          `${p.controlPlaneRssBeforeMb.toFixed(1)} → ${p.controlPlaneRssMb.toFixed(1)}`,
          p.kbPerSidecar.toFixed(0),
          p.cpuMsPerSidecarConnect.toFixed(2),
          p.cpuMsPerSidecarPush.toFixed(3),
        ]),
      ),
    );
    for (const p of cp.pushes) for (const problem of p.problems) out.push('', `- ${p.sidecars} sidecars: ${problem}`);
  }
  if (cp && cp.sidecarMemory.length > 0) {
    const first = cp.sidecarMemory[0];
    out.push(
      '',
      '### A real sidecar’s memory by mesh size',
      '',
      'A `weft proxy` (outbound only) in a mesh of N services, the same ten of which have one endpoint each in every size, measured 2 s after it has applied the full config.',
      '',
      table(
        ['services in the mesh', 'RSS (MB)', 'peak RSS (MB)', `÷ ${first?.services ?? ''} services`],
        cp.sidecarMemory.map((m) => [
          String(m.services),
          m.rssMb.toFixed(1),
          m.hwmMb.toFixed(1),
          first ? `${(m.rssMb / first.rssMb).toFixed(2)}×` : '—',
        ]),
      ),
    );
  }
  if (report.otherLoad) {
    out.push(
      '',
      '## Noise',
      '',
      `CPU used by processes the bench did not start, during the measurements: median ${report.otherLoad.median.toFixed(2)} cores, ` +
        `min ${report.otherLoad.min.toFixed(2)}, max ${report.otherLoad.max.toFixed(2)} (over ${report.otherLoad.n} measurements).`,
    );
  }
  out.push('', KEEP_START, keptSection(previous), KEEP_END, '');
  return out.join('\n');
}
