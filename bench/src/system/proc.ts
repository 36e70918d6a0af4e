// What the kernel says about our processes and the machine: CPU time of a PID
// (/proc/<pid>/stat), its memory (/proc/<pid>/status VmRSS and VmHWM) and busy time per
// core (/proc/stat). Parsing is pure; the readers return undefined for a PID that is gone.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of the CPU times in /proc (USER_HZ, nearly always 100). */
export const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU ticks of the process (all its threads), from /proc/<pid>/stat text. */
export function parsePidStatTicks(text: string): number | undefined {
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : undefined;
}

export interface Memory {
  readonly rssKb: number;
  readonly hwmKb: number;
}

/** VmRSS and VmHWM (peak RSS) from /proc/<pid>/status text. */
export function parseStatusMemory(text: string): Memory | undefined {
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
  if (!rss || !hwm) return undefined;
  return { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]) };
}

/** Busy ticks (everything but idle and iowait) per line of /proc/stat: "cpu" is the
 * machine, "cpu0", "cpu1"… the cores. */
export function parseBusyTicks(text: string): Map<string, number> {
  const busy = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [name, ...fields] = line.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    busy.set(
      name as string,
      [user, nice, system, irq, softirq, steal].reduce<number>((sum, n) => sum + (n ?? 0), 0),
    );
  }
  return busy;
}

export function readPidTicks(pid: number): number | undefined {
  try {
    return parsePidStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU ticks of several processes together; NaN if one of them is gone. */
export function readPidsTicks(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (readPidTicks(pid) ?? Number.NaN), 0);
}

export function readMemory(pid: number): Memory | undefined {
  try {
    return parseStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function readBusyTicks(): Map<string, number> {
  return parseBusyTicks(readFileSync('/proc/stat', 'utf8'));
}

/** CPU ticks this process used itself plus those of the children it has reaped (the load
 * generators, once they exit). */
export function readSelfTicks(): number {
  const rest = readFileSync('/proc/self/stat', 'utf8');
  const fields = rest.slice(rest.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime are fields 14–17.
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
}
