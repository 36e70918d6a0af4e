// Weft's own processes, started through the real CLI (`weft control-plane`, `weft proxy`)
// on loopback with port 0, optionally pinned and profiled. Readiness comes from their log
// lines and admin endpoints, never from sleeping.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Child } from '@weft/cli/child-process';
import { WEFT_BIN } from '@weft/cli/local-mesh';
import { ensureFreshBundle } from '../system/bundle.ts';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { probe, waitUntil } from './http-probe.ts';
import { createToken } from './join.ts';

export const STARTUP_MS = 30_000;

export interface ControlPlaneProcess {
  readonly child: Child;
  readonly xds: string;
  readonly adminUrl: string;
  readonly dataDir: string;
  /** The roots sidecars verify the mesh with (`weft proxy --trust-bundle`). */
  readonly trustBundlePath: string;
}

export interface SidecarProcess {
  readonly child: Child;
  readonly outboundPort: number;
  readonly inboundPort: number | undefined;
  readonly adminPort: number;
}

export interface ProcessOptions {
  /** Names the log file and the CPU profile. */
  readonly name: string;
  readonly dir: string;
  readonly logDir: string;
  readonly cpus: string | undefined;
  /** node --cpu-prof into this directory when set. */
  readonly cpuProfDir?: string | undefined;
}

function nodeArgs(options: ProcessOptions): string[] {
  if (!options.cpuProfDir) return [];
  return ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir, '--cpu-prof-name', `${options.name}.cpuprofile`];
}

export async function startControlPlane(
  processes: OwnedProcesses,
  options: ProcessOptions & { readonly meshYaml: string; readonly extraArgs?: readonly string[] },
): Promise<ControlPlaneProcess> {
  ensureFreshBundle();
  const dataDir = join(options.dir, `${options.name}-data`);
  const configFile = join(options.dir, `${options.name}-mesh.yaml`);
  writeFileSync(configFile, options.meshYaml);
  const child = processes.start({
    name: options.name,
    command: process.execPath,
    args: [
      ...nodeArgs(options),
      WEFT_BIN,
      'control-plane',
      '--config',
      configFile,
      '--data-dir',
      dataDir,
      '--xds-port',
      '0',
      '--admin-port',
      '0',
      ...(options.extraArgs ?? []),
    ],
    cpus: options.cpus,
    logFile: join(options.logDir, `${options.name}.log`),
  });
  const line = await child.waitFor((l) => l['msg'] === 'control plane listening', STARTUP_MS, 'the control plane to listen');
  return { child, xds: String(line['xds']), adminUrl: String(line['admin']), dataDir, trustBundlePath: String(line['trustBundle']) };
}

export async function startSidecar(
  processes: OwnedProcesses,
  options: ProcessOptions & {
    readonly service: string;
    /** The control plane to join: the sidecar gets a join token and its trust bundle. */
    readonly controlPlane: ControlPlaneProcess;
    readonly appPort?: number;
    readonly extraArgs?: readonly string[];
  },
): Promise<SidecarProcess> {
  ensureFreshBundle();
  const token = await createToken(options.controlPlane.adminUrl, options.service);
  const child = processes.start({
    name: options.name,
    command: process.execPath,
    env: { ...process.env, WEFT_TOKEN: token },
    args: [
      ...nodeArgs(options),
      WEFT_BIN,
      'proxy',
      '--service',
      options.service,
      '--node-id',
      options.name,
      '--control-plane',
      options.controlPlane.xds,
      '--trust-bundle',
      options.controlPlane.trustBundlePath,
      '--inbound-host',
      '127.0.0.1',
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
      '--drain-ms',
      '0',
      ...(options.appPort === undefined ? [] : ['--app-port', String(options.appPort)]),
      ...(options.extraArgs ?? []),
    ],
    cpus: options.cpus,
    logFile: join(options.logDir, `${options.name}.log`),
  });
  const line = await child.waitFor((l) => l['msg'] === 'sidecar listening', STARTUP_MS, 'the sidecar to listen');
  const adminPort = Number(line['admin']);
  await waitUntil(async () => (await probe(adminPort, '/ready')) === 200, `${options.name} /ready`, STARTUP_MS);
  return {
    child,
    outboundPort: Number(line['outbound']),
    inboundPort: typeof line['inbound'] === 'number' ? line['inbound'] : undefined,
    adminPort,
  };
}
