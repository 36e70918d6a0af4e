// Runs a whole mesh on this machine: the control plane, every Workload of the mesh file
// (its app, and a sidecar beside each replica), and an ingress sidecar whose outbound
// port is where you send requests from outside. Each process is a child we own. An app
// starts only once its sidecar is ready; on stop, sidecars outlive their apps' draining.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatConfigError, parseMeshYaml, type WorkloadResource } from '@weft/control-plane';
import { type Child, spawnChild } from './child-process.ts';
import { freePort, waitForPort } from './free-port.ts';

export const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

export interface LocalMeshOptions {
  readonly meshFile: string;
  readonly dataDir: string;
  readonly ingressPort: number;
  readonly adminPort: number;
  readonly xdsPort: number;
  /** Called with progress lines. */
  readonly say: (line: string) => void;
  /** Aborting during startup stops whatever has started and rejects. */
  readonly signal?: AbortSignal;
}

export interface RunningProcess {
  readonly name: string;
  readonly service: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly appPort?: number;
  readonly inboundPort?: number;
  readonly outboundPort: number;
  readonly adminPort: number;
  readonly sidecar: Child;
  readonly app?: Child;
}

export interface LocalMesh {
  readonly adminUrl: string;
  readonly xdsAddress: string;
  readonly controlPlane: Child;
  readonly workloads: readonly RunningProcess[];
  readonly ingress: RunningProcess;
  readonly logDir: string;
  stop(): Promise<void>;
}

export class MeshFileError extends Error {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[]) {
    super(message);
    this.details = details;
  }
}

const STARTUP_TIMEOUT_MS = 20_000;
/** How long a stopping sidecar keeps its outbound open for an app that is still draining. */
const SIDECAR_DRAIN_MS = 10_000;

export async function startLocalMesh(options: LocalMeshOptions): Promise<LocalMesh> {
  const meshFile = resolve(options.meshFile);
  const parsed = parseMeshYaml(readFileSync(meshFile, 'utf8'), options.meshFile);
  if (!parsed.ok) throw new MeshFileError(`${options.meshFile} is not valid`, parsed.errors.map(formatConfigError));
  const workloads = parsed.documents.map((d) => d.resource).filter((r): r is WorkloadResource => r.kind === 'Workload');

  const dataDir = resolve(options.dataDir);
  const logDir = join(dataDir, 'logs');
  // Each `weft up` starts from the file alone, not from what an earlier run applied.
  rmSync(join(dataDir, 'control-plane'), { recursive: true, force: true });
  rmSync(logDir, { recursive: true, force: true });

  const started: Child[] = [];
  const own = (child: Child) => {
    started.push(child);
    if (options.signal?.aborted) void child.stop();
    return child;
  };
  const stop = async () => {
    // Sidecars and apps together (each sidecar drains until its app has gone); the control plane last.
    const [controlPlane, ...rest] = started;
    await Promise.all(rest.reverse().map((c) => c.stop(c.name.endsWith(' sidecar') ? SIDECAR_DRAIN_MS + 5000 : 5000)));
    await controlPlane?.stop();
  };

  const onAbort = () => void stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const controlPlane = own(
      spawnChild({
        name: 'control-plane',
        command: process.execPath,
        args: [
          WEFT_BIN,
          'control-plane',
          '--config',
          meshFile,
          '--data-dir',
          join(dataDir, 'control-plane'),
          '--admin-port',
          String(options.adminPort),
          '--xds-port',
          String(options.xdsPort),
          '--endpoint-grace-ms',
          '0',
        ],
        logFile: join(logDir, 'control-plane.log'),
      }),
    );
    const ready = await controlPlane.waitFor(
      (l) => l['msg'] === 'control plane listening',
      STARTUP_TIMEOUT_MS,
      'the control plane to listen',
    );
    const xdsAddress = String(ready['xds']);
    const adminUrl = String(ready['admin']);
    options.say(`control plane: admin ${adminUrl}, discovery ${xdsAddress}`);
    // Every sidecar gets a join token for its service and the trust bundle to verify the
    // control plane with; nothing to do by hand.
    const identity: SidecarIdentity = {
      trustBundle: String(ready['trustBundle']),
      token: (service, namespace) => createToken(adminUrl, service, namespace),
    };

    const running: RunningProcess[] = [];
    const starting: Promise<void>[] = [];
    for (const workload of workloads) {
      for (let replica = 0; replica < workload.spec.replicas; replica++) {
        const name = workload.spec.replicas > 1 ? `${workload.metadata.name}-${replica}` : workload.metadata.name;
        starting.push(
          startWorkload(workload, name, xdsAddress, identity, logDir, dirname(meshFile), own).then((p) => {
            running.push(p);
          }),
        );
      }
    }
    await Promise.all(starting);
    const ingress = await startSidecar({
      name: 'ingress',
      service: 'ingress',
      namespace: 'default',
      labels: {},
      xdsAddress,
      identity,
      logDir,
      outboundPort: options.ingressPort,
      own,
    });
    await Promise.all([...running, ingress].map((p) => waitReady(p)));
    running.sort((a, b) => a.name.localeCompare(b.name));
    options.signal?.throwIfAborted();
    return { adminUrl, xdsAddress, controlPlane, workloads: running, ingress, logDir, stop };
  } catch (error) {
    await stop();
    throw options.signal?.aborted ? options.signal.reason : error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

async function startWorkload(
  workload: WorkloadResource,
  name: string,
  xdsAddress: string,
  identity: SidecarIdentity,
  logDir: string,
  baseDir: string,
  own: (c: Child) => Child,
): Promise<RunningProcess> {
  const appPort = await freePort();
  const sidecar = await startSidecar({
    name,
    service: workload.spec.service,
    namespace: workload.metadata.namespace,
    labels: workload.spec.labels,
    xdsAddress,
    identity,
    logDir,
    appPort,
    own,
  });
  // Hold the app until its sidecar has its config, so its first calls already route.
  await waitReady(sidecar);
  const [command, ...args] = workload.spec.command as [string, ...string[]];
  const app = own(
    spawnChild({
      name: `${name} app`,
      command: command === 'node' ? process.execPath : command,
      args: args.map((a) => (a.startsWith('.') || a.includes('/') ? resolveIfExists(baseDir, a) : a)),
      cwd: baseDir,
      env: {
        ...process.env,
        ...workload.spec.env,
        PORT: String(appPort),
        WEFT_SERVICE: workload.spec.service,
        WEFT_WORKLOAD: name,
        WEFT_LABELS: Object.entries(workload.spec.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
        WEFT_OUTBOUND: `127.0.0.1:${sidecar.outboundPort}`,
        // Its sidecar's admin port: /ready, and POST /shutdown for an app that ends like a Job.
        WEFT_ADMIN: `127.0.0.1:${sidecar.adminPort}`,
        HTTP_PROXY: `http://127.0.0.1:${sidecar.outboundPort}`,
      },
      logFile: join(logDir, `${name}.app.log`),
    }),
  );
  await waitForPort(appPort, STARTUP_TIMEOUT_MS).catch((error: Error) => {
    throw new Error(`${name}: app did not start listening on ${appPort}: ${error.message}\n${app.recentOutput()}`);
  });
  return { ...sidecar, appPort, app };
}

interface SidecarIdentity {
  readonly trustBundle: string;
  readonly token: (service: string, namespace: string) => Promise<string>;
}

async function createToken(adminUrl: string, service: string, namespace: string): Promise<string> {
  const response = await fetch(`${adminUrl}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service, namespace, ttl: '1h' }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { token?: string; error?: string; errors?: string[] };
  if (!response.ok || !body.token)
    throw new Error(`cannot create a token for ${service}: ${body.error ?? response.status} ${body.errors ?? ''}`);
  return body.token;
}

async function startSidecar(spec: {
  name: string;
  service: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  xdsAddress: string;
  identity: SidecarIdentity;
  logDir: string;
  appPort?: number;
  outboundPort?: number;
  own: (c: Child) => Child;
}): Promise<RunningProcess> {
  const args = [
    WEFT_BIN,
    'proxy',
    '--service',
    spec.service,
    '--namespace',
    spec.namespace,
    '--node-id',
    spec.name,
    '--control-plane',
    spec.xdsAddress,
    '--inbound-host',
    '127.0.0.1',
    '--inbound-port',
    '0',
    '--outbound-port',
    String(spec.outboundPort ?? 0),
    '--admin-port',
    '0',
    '--drain-ms',
    String(SIDECAR_DRAIN_MS),
    '--trust-bundle',
    spec.identity.trustBundle,
    // A local mesh is for looking at: trace every request and log it (Istio's demo profile
    // does the same; a production sidecar defaults to 1 % of traces and no access log).
    '--trace-sample-rate',
    '1',
    '--access-log',
    'stdout',
  ];
  for (const [k, v] of Object.entries(spec.labels)) args.push('--label', `${k}=${v}`);
  if (spec.appPort !== undefined) args.push('--app-port', String(spec.appPort));
  const token = await spec.identity.token(spec.service, spec.namespace);
  const sidecar = spec.own(
    spawnChild({
      name: `${spec.name} sidecar`,
      command: process.execPath,
      args,
      env: { ...process.env, WEFT_TOKEN: token }, // in the environment, not argv, which ps shows
      logFile: join(spec.logDir, `${spec.name}.sidecar.log`),
    }),
  );
  const line = await sidecar.waitFor((l) => l['msg'] === 'sidecar listening', STARTUP_TIMEOUT_MS, 'the sidecar to listen');
  return {
    name: spec.name,
    service: spec.service,
    labels: spec.labels,
    ...(typeof line['inbound'] === 'number' ? { inboundPort: line['inbound'] } : {}),
    outboundPort: Number(line['outbound']),
    adminPort: Number(line['admin']),
    sidecar,
  };
}

async function waitReady(p: RunningProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${p.adminPort}/ready`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (!p.sidecar.running) throw new Error(`${p.name}: sidecar exited\n${p.sidecar.recentOutput()}`);
    if (Date.now() > deadline) throw new Error(`${p.name}: sidecar not ready after ${STARTUP_TIMEOUT_MS} ms\n${p.sidecar.recentOutput()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function resolveIfExists(baseDir: string, arg: string): string {
  const candidate = resolve(baseDir, arg);
  return existsSync(candidate) ? candidate : arg;
}
