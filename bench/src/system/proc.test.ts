import { describe, expect, it } from 'vitest';
import { parseBusyTicks, parsePidStatTicks, parseStatusMemory } from './proc.ts';

describe('parsePidStatTicks', () => {
  it('adds utime and stime, even when the command name holds spaces and parentheses', () => {
    const stat =
      '4242 (node (weft) a) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1500 250 7 9 20 0 11 0 123456 1234567 8901 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    expect(parsePidStatTicks(stat)).toBe(1750);
  });
  it('is undefined for text that is not a stat line', () => {
    expect(parsePidStatTicks('nonsense')).toBeUndefined();
  });
});

describe('parseStatusMemory', () => {
  it('reads VmRSS and VmHWM in kB', () => {
    const status = 'Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   58000 kB\nThreads:\t11\n';
    expect(parseStatusMemory(status)).toEqual({ rssKb: 58000, hwmKb: 61234 });
  });
  it('is undefined for a kernel thread or a zombie (no Vm lines)', () => {
    expect(parseStatusMemory('Name:\tkworker\nState:\tZ (zombie)\n')).toBeUndefined();
  });
});

describe('parseBusyTicks', () => {
  it('counts user, nice, system, irq, softirq and steal, not idle or iowait', () => {
    const stat = 'cpu  100 1 50 9000 30 2 3 4 0 0\ncpu0 60 1 25 4500 10 1 2 2 0 0\ncpu1 40 0 25 4500 20 1 1 2 0 0\nintr 1 2 3\n';
    const busy = parseBusyTicks(stat);
    expect(busy.get('cpu')).toBe(160);
    expect(busy.get('cpu0')).toBe(91);
    expect(busy.get('cpu1')).toBe(69);
    expect(busy.has('intr')).toBe(false);
  });
});
