// Starts a hop-proxy.ts pair (client → a → mTLS hop → b → app) for bench/hop/run.ts and its
// test: the two halves as child processes we own, ready when both accept.
import { join } from 'node:path';
import type { Child } from '@weft/cli/child-process';
import type { PairCertificates } from '../src/peers/certs.ts';
import { freePorts } from '../src/peers/ports.ts';
import { waitListening } from '../src/peers/wait-listening.ts';
import type { OwnedProcesses } from '../src/system/owned-processes.ts';

export type Hop = 'h1' | 'h2';

export interface HopPair {
  readonly hop: Hop;
  /** Where clients connect (plain HTTP/1.1). */
  readonly port: number;
  readonly a: Child;
  readonly b: Child;
}

export interface HopPairOptions {
  readonly hop: Hop;
  readonly appPort: number;
  /** From makeCertificates(dir, ['client', 'app']). */
  readonly certs: PairCertificates;
  readonly logDir: string;
  /** HTTP/2 sessions from a to b (the h2 hop only). */
  readonly sessions?: number;
  readonly cpus?: string | undefined;
  /** Tells two pairs of the same hop apart in process names and log files. */
  readonly label?: string;
}

export async function startHopPair(processes: OwnedProcesses, options: HopPairOptions): Promise<HopPair> {
  const [aPort, bPort] = (await freePorts(2)) as [number, number];
  const script = new URL('./hop-proxy.ts', import.meta.url).pathname;
  const label = options.label ?? options.hop;
  const start = (role: 'a' | 'b', listen: number, upstream: number, identity: 'client' | 'app'): Child =>
    processes.start({
      name: `hop ${label} ${role}`,
      command: process.execPath,
      args: [
        script,
        '--role',
        role,
        '--hop',
        options.hop,
        '--listen',
        String(listen),
        '--upstream',
        String(upstream),
        '--bundle',
        options.certs.bundle[identity] as string,
        '--ca',
        options.certs.caFile,
        '--sessions',
        String(options.sessions ?? 1),
      ],
      cpus: options.cpus,
      logFile: join(options.logDir, `hop-${label}-${role}.log`),
    });
  const b = start('b', bPort, options.appPort, 'app');
  const a = start('a', aPort, bPort, 'client');
  await Promise.all([waitListening(a, [aPort]), waitListening(b, [bPort])]);
  return { hop: options.hop, port: aPort, a, b };
}
