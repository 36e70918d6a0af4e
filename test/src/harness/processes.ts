// Real control planes and sidecars, started through the `weft` CLI as child processes on
// loopback with port 0; readiness is awaited from their log lines and /ready, never slept.
// Sidecars join over mTLS: startSidecar gets a join token and the trust bundle from the
// control plane at its address, or, when none runs there yet, provisions that control
// plane's data directory offline (`weft ca init`, `weft token create --data-dir`) and
// startControlPlane later picks it up.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Child, spawnChild } from '@weft/cli/child-process';
import { WEFT_BIN } from '@weft/cli/local-mesh';
import { onCleanup, tempDir } from './cleanup.ts';
import { waitUntil } from './wait.ts';

const STARTUP_MS = 20_000;

export interface ControlPlaneHandle {
  readonly child: Child;
  readonly xdsAddress: string;
  readonly adminUrl: string;
  readonly dataDir: string;
  readonly configPath: string;
  /** https://host:port when started with --webhook-port. */
  readonly webhookUrl: string | undefined;
  /** The trust bundle file sidecars verify the mesh with. */
  readonly trustBundlePath: string;
}

/** Control planes by discovery address: running ones, and data directories provisioned
 * for one that has not started yet. */
const running = new Map<string, ControlPlaneHandle>();
const provisioned = new Map<string, { dataDir: string; trustBundlePath: string }>();

export interface ControlPlaneSpec {
  readonly config?: string;
  /** Reuse a data directory (restart tests). */
  readonly dataDir?: string;
  /** Reuse an existing config file path instead of writing `config`. */
  readonly configPath?: string;
  readonly xdsPort?: number;
  readonly adminPort?: number;
  readonly args?: readonly string[];
}

export async function startControlPlane(spec: ControlPlaneSpec = {}): Promise<ControlPlaneHandle> {
  const prepared = spec.xdsPort ? provisioned.get(`127.0.0.1:${spec.xdsPort}`) : undefined;
  const dataDir = spec.dataDir ?? prepared?.dataDir ?? tempDir('weft-cp-');
  const configPath = spec.configPath ?? join(tempDir('weft-config-'), 'mesh.yaml');
  if (spec.config !== undefined) writeFileSync(configPath, spec.config);
  const child = spawnChild({
    name: 'control-plane',
    command: process.execPath,
    args: [
      WEFT_BIN,
      'control-plane',
      '--config',
      configPath,
      '--data-dir',
      dataDir,
      '--xds-port',
      String(spec.xdsPort ?? 0),
      '--admin-port',
      String(spec.adminPort ?? 0),
      ...(spec.args ?? []),
    ],
  });
  onCleanup(() => child.stop());
  const line = await child.waitFor((l) => l['msg'] === 'control plane listening', STARTUP_MS, 'the control plane to listen');
  const handle: ControlPlaneHandle = {
    child,
    xdsAddress: String(line['xds']),
    adminUrl: String(line['admin']),
    dataDir,
    configPath,
    trustBundlePath: String(line['trustBundle']),
    webhookUrl: typeof line['webhook'] === 'string' ? line['webhook'] : undefined,
  };
  running.set(handle.xdsAddress, handle);
  onCleanup(() => {
    if (running.get(handle.xdsAddress) === handle) running.delete(handle.xdsAddress);
  });
  return handle;
}

/** A join token from a running control plane (its admin API, as `weft token create`). */
export async function createToken(
  cp: ControlPlaneHandle,
  service: string,
  options: { namespace?: string; ttl?: string } = {},
): Promise<string> {
  const response = await fetch(`${cp.adminUrl}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service, namespace: options.namespace ?? 'default', ttl: options.ttl ?? '1h' }),
  });
  const body = (await response.json()) as { token?: string; error?: string };
  if (!response.ok || !body.token) throw new Error(`cannot create a token for ${service}: ${JSON.stringify(body)}`);
  return body.token;
}

/** Token and trust bundle for a sidecar of `service` joining the control plane at `address`. */
async function joinCredentials(address: string, service: string, namespace: string): Promise<{ token: string; trustBundle: string }> {
  const cp = running.get(address);
  if (cp) return { token: await createToken(cp, service, { namespace }), trustBundle: cp.trustBundlePath };
  let prepared = provisioned.get(address);
  if (!prepared) {
    const dataDir = tempDir('weft-cp-');
    const init = await weft(['ca', 'init', '--data-dir', dataDir]);
    if (init.code !== 0) throw new Error(`weft ca init failed: ${init.stderr}`);
    prepared = { dataDir, trustBundlePath: init.stdout.trim() };
    provisioned.set(address, prepared);
    onCleanup(() => {
      provisioned.delete(address);
    });
  }
  const created = await weft(['token', 'create', '--data-dir', prepared.dataDir, '--service', service, '--namespace', namespace]);
  if (created.code !== 0) throw new Error(`weft token create failed: ${created.stderr}`);
  return { token: created.stdout.trim(), trustBundle: prepared.trustBundlePath };
}

export interface SidecarHandle {
  readonly child: Child;
  readonly nodeId: string;
  readonly inboundPort: number | undefined;
  readonly outboundPort: number;
  readonly adminPort: number;
  /** Opaque TCP ports opened at startup (--upstream), by listener name. */
  readonly tcpPorts: Readonly<Record<string, number>>;
  waitReady(timeoutMs?: number): Promise<void>;
}

export interface SidecarSpec {
  readonly service: string;
  readonly controlPlane: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly appPort?: number;
  readonly nodeId?: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

let sidecarCount = 0;

export async function startSidecar(spec: SidecarSpec): Promise<SidecarHandle> {
  sidecarCount += 1;
  const nodeId = spec.nodeId ?? `${spec.service}-${process.pid}-${sidecarCount}`;
  // A test that passes its own token or bundle (to test refusals) gets exactly that.
  const given = spec.args ?? [];
  const namespaceAt = given.indexOf('--namespace');
  const namespace = namespaceAt >= 0 ? (given[namespaceAt + 1] ?? 'default') : 'default';
  const needsToken =
    !given.includes('--token') &&
    !given.includes('--token-file') &&
    spec.env?.['WEFT_TOKEN'] === undefined &&
    spec.env?.['WEFT_TOKEN_FILE'] === undefined;
  const needsBundle = !given.includes('--trust-bundle') && spec.env?.['WEFT_TRUST_BUNDLE'] === undefined;
  const join = needsToken || needsBundle ? await joinCredentials(spec.controlPlane, spec.service, namespace) : undefined;
  const identityEnv: Record<string, string> = {};
  if (join && needsToken) identityEnv['WEFT_TOKEN'] = join.token;
  if (join && needsBundle) identityEnv['WEFT_TRUST_BUNDLE'] = join.trustBundle;
  const args = [
    WEFT_BIN,
    'proxy',
    '--service',
    spec.service,
    '--node-id',
    nodeId,
    '--control-plane',
    spec.controlPlane,
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
    ...(spec.args ?? []),
  ];
  for (const [k, v] of Object.entries(spec.labels ?? {})) args.push('--label', `${k}=${v}`);
  if (spec.appPort !== undefined) args.push('--app-port', String(spec.appPort));
  const child = spawnChild({
    name: `sidecar ${nodeId}`,
    command: process.execPath,
    args,
    env: { ...process.env, WEFT_XDS_BACKOFF_BASE_MS: '50', WEFT_XDS_BACKOFF_MAX_MS: '500', ...identityEnv, ...spec.env },
  });
  onCleanup(() => child.stop());
  const line = await child.waitFor((l) => l['msg'] === 'sidecar listening', STARTUP_MS, 'the sidecar to listen');
  const adminPort = Number(line['admin']);
  return {
    child,
    nodeId,
    inboundPort: typeof line['inbound'] === 'number' ? line['inbound'] : undefined,
    outboundPort: Number(line['outbound']),
    adminPort,
    tcpPorts: (line['tcp'] ?? {}) as Record<string, number>,
    waitReady: (timeoutMs = STARTUP_MS) =>
      waitUntil(
        async () => (await fetch(`http://127.0.0.1:${adminPort}/ready`).catch(() => undefined))?.ok === true,
        timeoutMs,
        () => `sidecar ${nodeId} ready\n${child.recentOutput()}`,
      ),
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `weft <args>` to completion (bounded), as a user would. */
export function weft(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weft ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Waits until `count` sidecars are connected and every one has applied the control
 * plane's latest change (so each knows every endpoint that exists now). */
export async function waitForMeshSync(cp: ControlPlaneHandle, count: number, timeoutMs = 10_000): Promise<void> {
  let last = '';
  await waitUntil(
    async () => {
      const status = (await (await fetch(`${cp.adminUrl}/api/status`)).json()) as {
        changeId: number;
        sidecars: { node: { id: string }; syncedChangeId: number }[];
      };
      last = JSON.stringify(status.sidecars.map((s) => [s.node.id, s.syncedChangeId]));
      return status.sidecars.length === count && status.sidecars.every((s) => s.syncedChangeId >= status.changeId);
    },
    timeoutMs,
    () => `${count} sidecars synced; last status ${last}`,
  );
}
