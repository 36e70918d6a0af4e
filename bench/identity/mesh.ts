// Real processes for the identity benchmarks: a control plane and sidecars started with
// the `weft` CLI on loopback, each given a join token and the trust bundle, stopped by PID
// when the benchmark ends (even on Ctrl-C or an error).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, spawnChild } from '@weft/cli/child-process';
import { WEFT_BIN } from '@weft/cli/local-mesh';

const children: Child[] = [];
export const workDir = mkdtempSync(join(tmpdir(), 'weft-bench-identity-'));

export async function stopAll(): Promise<void> {
  await Promise.all(
    children
      .splice(0)
      .reverse()
      .map((c) => c.stop()),
  );
  rmSync(workDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => process.exit(130));
  });
}

function own(child: Child): Child {
  children.push(child);
  return child;
}

/** `taskset -c <cpu>` in front of a command, when asked to pin. */
function pinned(cpu: string | undefined, command: string, args: string[]): { command: string; args: string[] } {
  return cpu === undefined ? { command, args } : { command: 'taskset', args: ['-c', cpu, command, ...args] };
}

export interface ControlPlane {
  readonly xds: string;
  readonly admin: string;
  readonly trustBundle: string;
}

export async function startControlPlane(config: string): Promise<ControlPlane> {
  const configPath = join(workDir, 'mesh.yaml');
  writeFileSync(configPath, config);
  const cp = own(
    spawnChild({
      name: 'control-plane',
      command: process.execPath,
      args: [WEFT_BIN, 'control-plane', '--config', configPath, '--data-dir', join(workDir, 'cp'), '--xds-port', '0', '--admin-port', '0'],
    }),
  );
  const line = await cp.waitFor((l) => l['msg'] === 'control plane listening', 20_000, 'the control plane');
  return { xds: String(line['xds']), admin: String(line['admin']), trustBundle: String(line['trustBundle']) };
}

export interface Sidecar {
  readonly inbound: number;
  readonly outbound: number;
  readonly admin: number;
}

export async function startSidecar(cp: ControlPlane, service: string, options: { appPort?: number; cpu?: string } = {}): Promise<Sidecar> {
  const response = await fetch(`${cp.admin}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service }),
  });
  const { token } = (await response.json()) as { token: string };
  const args = [
    WEFT_BIN,
    'proxy',
    '--service',
    service,
    '--control-plane',
    cp.xds,
    '--trust-bundle',
    cp.trustBundle,
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
  ];
  if (options.appPort !== undefined) args.push('--app-port', String(options.appPort));
  const run = pinned(options.cpu, process.execPath, args);
  const sidecar = own(spawnChild({ name: `${service} sidecar`, ...run, env: { ...process.env, WEFT_TOKEN: token } }));
  const line = await sidecar.waitFor((l) => l['msg'] === 'sidecar listening', 20_000, `${service} to listen`);
  const admin = Number(line['admin']);
  for (const deadline = Date.now() + 20_000; ; ) {
    const ready = await fetch(`http://127.0.0.1:${admin}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`${service} not ready\n${sidecar.recentOutput()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { inbound: Number(line['inbound']), outbound: Number(line['outbound']), admin };
}

/** A small HTTP app in its own process: 200 with a short body. */
export async function startApp(cpu?: string): Promise<number> {
  const script = join(workDir, 'app.mjs');
  writeFileSync(
    script,
    `import { createServer } from 'node:http';
const server = createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 }); res.end('ok\\n'); });
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'app listening', port: server.address().port })));
`,
  );
  const app = own(spawnChild({ name: 'app', ...pinned(cpu, process.execPath, [script]) }));
  const line = await app.waitFor((l) => l['msg'] === 'app listening', 10_000, 'the app');
  return Number(line['port']);
}

/** Waits until every sidecar the control plane knows has applied its latest change. */
export async function waitForSync(cp: ControlPlane, count: number): Promise<void> {
  for (const deadline = Date.now() + 20_000; ; ) {
    const status = (await (await fetch(`${cp.admin}/api/status`)).json()) as { changeId: number; sidecars: { syncedChangeId: number }[] };
    if (status.sidecars.length === count && status.sidecars.every((s) => s.syncedChangeId >= status.changeId)) return;
    if (Date.now() > deadline) throw new Error('sidecars did not sync');
    await new Promise((r) => setTimeout(r, 100));
  }
}
