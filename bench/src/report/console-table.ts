// The summary printed on stdout at the end of a run: the same numbers as RESULTS.md, as
// aligned plain-text columns.
import type { TopologyName } from '../data-path/topology.ts';
import type { BenchReport } from './bench-report.ts';
import { scenarioRows } from './cells.ts';
import type { GoalResult } from './goals.ts';

export function columns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function consoleReport(report: BenchReport, goals: readonly GoalResult[]): string {
  const topologies = report.topologies.map((t) => t.name) as TopologyName[];
  const out: string[] = [];
  for (const scenario of report.scenarios) {
    const { header, rows } = scenarioRows(scenario, topologies);
    if (rows.length === 0) continue;
    out.push(`\n${scenario.title} [${scenario.id}]`, columns(header, rows));
    for (const [name, result] of Object.entries(scenario.topologies)) {
      for (const failure of result.failures) out.push(`  ! ${name}: ${failure.split('\n')[0]}`);
    }
  }
  const cp = report.controlPlane;
  if (cp && cp.pushes.length > 0) {
    out.push(
      '\nControl plane: apply → ACK by all sidecars',
      columns(
        ['sidecars', 'services', 'p50 ms', 'p99 ms', 'CP RSS MB', 'KB/sidecar', 'CPU ms/sidecar connect', 'CPU ms/sidecar push'],
        cp.pushes.map((p) => [
          String(p.sidecars),
          String(p.services),
          p.p50Ms.toFixed(1),
          p.p99Ms.toFixed(1),
          p.controlPlaneRssMb.toFixed(1),
          p.kbPerSidecar.toFixed(0),
          p.cpuMsPerSidecarConnect.toFixed(2),
          p.cpuMsPerSidecarPush.toFixed(3),
        ]),
      ),
    );
  }
  if (cp && cp.sidecarMemory.length > 0) {
    out.push(
      '\nSidecar memory by mesh size',
      columns(
        ['services', 'RSS MB', 'peak MB'],
        cp.sidecarMemory.map((m) => [String(m.services), m.rssMb.toFixed(1), m.hwmMb.toFixed(1)]),
      ),
    );
  }
  out.push(
    '\nGoals',
    columns(
      ['goal', 'target', 'measured', 'status'],
      goals.map((g) => [g.goal, g.target, g.measured, g.gap ? `${g.status} (${g.gap})` : g.status]),
    ),
  );
  if (report.weftHop?.kind === 'plaintext') out.push(`\nNOTE: the Weft sidecar-to-sidecar hop ran in PLAINTEXT: ${report.weftHop.why}.`);
  return out.join('\n');
}
