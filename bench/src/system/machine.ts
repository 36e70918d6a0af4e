// The machine and tool versions a result was measured with, for RESULTS.md: numbers from
// different machines or versions are not comparable.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly kernel: string;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
}

export interface Versions {
  readonly [tool: string]: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux: leave it unknown
  }
  return {
    cpuModel,
    cores: availableParallelism(),
    kernel: release(),
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/** First line that names a version, from each tool's own version flag. */
export function toolVersions(): Versions {
  const first = (command: string, args: string[], pattern: RegExp): string => {
    const result = spawnSync(command, args, { encoding: 'utf8' });
    const text = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
    return pattern.exec(text)?.[1] ?? 'not installed';
  };
  return {
    node: process.version,
    haproxy: first('haproxy', ['-v'], /HAProxy version (\S+)/),
    nginx: first('nginx', ['-v'], /nginx\/(\S+)/),
    wrk: first('wrk', ['-v'], /wrk (\S+)/),
    h2load: first('h2load', ['--version'], /nghttp2\/(\S+)/),
    hey: first('dpkg-query', ['-W', 'hey'], /^hey\s+(\S+)/m),
    openssl: first('openssl', ['version'], /OpenSSL (\S+)/),
  };
}
