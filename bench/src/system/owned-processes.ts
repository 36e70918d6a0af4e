// Every process the bench starts, so that it can stop exactly those, by PID: at the end,
// on failure, and on Ctrl-C or SIGTERM. Long-lived peers are `Child`ren (log to a file,
// awaitable log lines); load generators run to completion with a hard timeout.
import { type ChildProcess, spawn } from 'node:child_process';
import { type Child, type ChildOptions, spawnChild } from '@weft/cli/child-process';

export interface RunOptions {
  /** Pin to these CPUs with taskset ("0", "1", "0-3"); unpinned when undefined. */
  readonly cpus?: string | undefined;
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export class OwnedProcesses {
  readonly #children = new Set<Child>();
  readonly #oneShots = new Set<ChildProcess>();

  /** Starts a long-lived process, pinned when `cpus` is given (taskset execs it, so the
   * PID we hold is the process itself). */
  start(options: ChildOptions & { readonly cpus?: string | undefined }): Child {
    const { cpus, ...rest } = options;
    const child = spawnChild(
      cpus === undefined ? rest : { ...rest, command: 'taskset', args: ['-c', cpus, options.command, ...options.args] },
    );
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  /** Runs a command to completion and collects its output; killed after `timeoutMs`. */
  run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    const argv = options.cpus === undefined ? [command, ...args] : ['taskset', '-c', options.cpus, command, ...args];
    return new Promise((resolve) => {
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
      this.#oneShots.add(child);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs);
      const done = (code: number | null) => {
        clearTimeout(timer);
        this.#oneShots.delete(child);
        resolve({ code, stdout, stderr, timedOut });
      };
      child.once('error', (error) => {
        stderr += `failed to start ${argv[0]}: ${error.message}\n`;
        done(-1);
      });
      child.once('close', (code) => done(code));
    });
  }

  /** Starts a Node script with an IPC channel (taskset execs node, which finds the
   * channel through the inherited descriptor); killed by stopAll like a one-shot run. */
  startNodeWithIpc(script: string, options: { readonly cpus?: string | undefined; readonly logTo: (line: string) => void }): ChildProcess {
    const argv = [process.execPath, script];
    const full = options.cpus === undefined ? argv : ['taskset', '-c', options.cpus, ...argv];
    const child = spawn(full[0] as string, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.#oneShots.add(child);
    child.once('exit', () => this.#oneShots.delete(child));
    for (const stream of [child.stdout, child.stderr]) stream?.setEncoding('utf8').on('data', (d: string) => options.logTo(d));
    return child;
  }

  /** PIDs of the long-lived processes still running. */
  pids(): number[] {
    return [...this.#children].flatMap((c) => (c.running && c.pid !== undefined ? [c.pid] : []));
  }

  /** Stops everything still running: one-shot runs at once, then the long-lived
   * processes with SIGTERM (SIGKILL after the grace period), all in parallel. */
  async stopAll(graceMs = 5000): Promise<void> {
    for (const child of this.#oneShots) child.kill('SIGKILL');
    await Promise.all([...this.#children].map((child) => child.stop(graceMs)));
  }

  /** Last resort when the process is exiting and cannot wait: SIGKILL by PID. */
  killAllNow(): void {
    for (const child of this.#oneShots) child.kill('SIGKILL');
    for (const child of this.#children) if (child.running) child.process.kill('SIGKILL');
  }
}
