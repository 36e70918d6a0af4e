// A child process we started and therefore own: its output goes to a log file (or is
// kept in memory), its JSON log lines can be awaited (readiness without sleeping), and
// stop() ends it by PID — SIGTERM, then SIGKILL after a bounded wait.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

export interface ChildOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Append output here; otherwise the last lines are kept in memory only. */
  readonly logFile?: string;
}

export type LogLine = Record<string, unknown>;

export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #recent: string[] = [];
  readonly #waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  readonly #log: WriteStream | undefined;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(options: ChildOptions) {
    this.name = options.name;
    if (options.logFile) {
      mkdirSync(dirname(options.logFile), { recursive: true });
      this.#log = createWriteStream(options.logFile, { flags: 'a' });
    }
    this.process = spawn(options.command, [...options.args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.#onLine(line));
    }
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
      this.process.once('error', (error) => {
        this.#onLine(`failed to start: ${error.message}`);
        this.#exit = { code: -1, signal: null };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** The last lines of output, for error messages. */
  recentOutput(lines = 30): string {
    return this.#recent.slice(-lines).join('\n');
  }

  /** Resolves with the first JSON log line (from now on) that matches. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs: number, what = 'log line'): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (line: LogLine) => {
          cleanup();
          resolve(line);
        },
      };
      const fail = (reason: string) => {
        cleanup();
        reject(new Error(`${this.name}: ${reason} while waiting for ${what}\n--- last output ---\n${this.recentOutput()}`));
      };
      const timer = setTimeout(() => fail(`no ${what} after ${timeoutMs} ms`), timeoutMs);
      const onExit = () => fail(`exited (${JSON.stringify(this.#exit)})`);
      this.process.once('exit', onExit);
      const cleanup = () => {
        clearTimeout(timer);
        this.process.off('exit', onExit);
        this.#waiters.delete(waiter);
      };
      if (!this.running) return onExit();
      this.#waiters.add(waiter);
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running || this.process.pid === undefined) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.#log?.end();
  }

  /** Kills at once (tests that simulate a crash). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGKILL');
    await this.exited;
    this.#log?.end();
  }

  #onLine(line: string): void {
    this.#log?.write(`${line}\n`);
    this.#recent.push(line);
    if (this.#recent.length > 200) this.#recent.shift();
    if (this.#waiters.size === 0 || line.charCodeAt(0) !== 123 /* { */) return;
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      return;
    }
    for (const waiter of [...this.#waiters]) if (waiter.match(parsed)) waiter.resolve(parsed);
  }
}

/** Starts a child process; see Child. */
export function spawnChild(options: ChildOptions): Child {
  return new Child(options);
}
