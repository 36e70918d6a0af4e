// The bench's handle on its fleet of simulated sidecars: starts the fleet process pinned
// to the load CPUs and turns its IPC replies into awaitable results.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { issueCredentials, type WorkloadCredentials } from '../peers/join.ts';
import type { ControlPlaneProcess } from '../peers/weft-processes.ts';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import type { FleetCommand, FleetReply } from './fleet-messages.ts';
import type { SimNode } from './sim-sidecar.ts';

const FLEET_SCRIPT = fileURLToPath(new URL('./fleet-process.ts', import.meta.url));

export class Fleet {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  constructor(processes: OwnedProcesses, cpus: string | undefined, logFile: string) {
    this.#child = processes.startNodeWithIpc(FLEET_SCRIPT, { cpus, logTo: (text) => appendFileSync(logFile, text) });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  /** Connects the nodes to the control plane, each with a certificate for its service. */
  async connect(
    cp: ControlPlaneProcess,
    nodes: readonly SimNode[],
    options: { batch: number; timeoutMs: number },
  ): Promise<Extract<FleetReply, { type: 'connected' }>> {
    const services = [...new Set(nodes.map((n) => n.service))];
    const credentials: Record<string, WorkloadCredentials> = {};
    for (const service of services) credentials[service] = await issueCredentials(cp.xds, cp.adminUrl, cp.trustBundlePath, service);
    const trustBundlePem = readFileSync(cp.trustBundlePath, 'utf8');
    return this.#ask(
      { type: 'connect', target: cp.xds, nodes, trustBundlePem, credentials, ...options },
      'connected',
      options.timeoutMs + 10_000,
    );
  }

  async awaitChange(changeId: number, timeoutMs: number): Promise<Extract<FleetReply, { type: 'change-acked' }>> {
    return this.#ask({ type: 'await-change', changeId, timeoutMs }, 'change-acked', timeoutMs + 10_000);
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    await this.#ask({ type: 'close' }, 'closed', 10_000).catch(() => this.#child.kill('SIGKILL'));
    await Promise.race([this.#exited, new Promise((r) => setTimeout(r, 5000))]);
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }

  #ask<T extends FleetReply['type']>(command: FleetCommand, replyType: T, timeoutMs: number): Promise<Extract<FleetReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FleetReply) => {
        if (message.type !== replyType) return;
        cleanup();
        resolve(message as Extract<FleetReply, { type: T }>);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`the sidecar fleet exited while waiting for ${replyType}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`the sidecar fleet did not answer ${command.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#child.off('message', onMessage);
        this.#child.off('exit', onExit);
      };
      this.#child.on('message', onMessage);
      this.#child.once('exit', onExit);
      this.#child.send(command);
    });
  }
}
