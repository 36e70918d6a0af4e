// Pods on one machine, for tests that need real network namespaces: a "node" namespace
// holding a bridge (10.77.0.1), and pods joined to it by veth pairs (eth0 inside, 10.77.0.2
// and up). Commands and long-running processes run inside a namespace through
// `ip netns exec`, optionally as another uid (setpriv). close() stops every process started
// here by PID, then deletes the namespaces (and with them the bridge and the veths).
// Nothing in the test process's own namespace changes, and no user account is created.
import { execFile, execFileSync } from 'node:child_process';
import { type Child, spawnChild } from '@weft/cli/child-process';

export interface Namespace {
  readonly name: string;
  /** Its address on the bridge. */
  readonly ip: string;
}

export interface PodNetwork {
  /** The bridge's namespace: what the pods see as "outside". */
  readonly node: Namespace;
  readonly pods: readonly Namespace[];
  /** Runs a command to completion inside `ns` (bounded). */
  exec(ns: Namespace, command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Starts a long-running process inside `ns`; close() stops it. */
  start(ns: Namespace, name: string, command: string, args: readonly string[], options?: RunOptions): Child;
  close(): Promise<void>;
}

export interface RunOptions {
  /** Run as this uid and gid (no account needed). */
  readonly uid?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const SUBNET = '10.77.0';
const REQUIRED = ['ip', 'setpriv', 'curl', 'iptables-nft-save', 'iptables-nft-restore', 'nft'];

/** Why pod networks cannot be made here, or undefined when they can. */
export function podNetworkUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces and iptables need root';
  for (const command of REQUIRED) {
    try {
      execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    } catch {
      return `${command} is not installed (Debian: apt-get install iproute2 util-linux curl iptables nftables)`;
    }
  }
  const probe = `weft-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (error) {
    return `cannot create a network namespace here: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? error}`;
  }
  return undefined;
}

export async function createPodNetwork(podCount: number): Promise<PodNetwork> {
  const prefix = `weft${process.pid}`;
  const node: Namespace = { name: `${prefix}-node`, ip: `${SUBNET}.1` };
  const pods: Namespace[] = Array.from({ length: podCount }, (_, i) => ({ name: `${prefix}-pod${i}`, ip: `${SUBNET}.${i + 2}` }));
  const created: string[] = [];
  const children: Child[] = [];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });

  const close = async () => {
    await Promise.all(children.splice(0).map((c) => c.stop()));
    for (const name of created.splice(0).reverse()) {
      try {
        ip('netns', 'del', name);
      } catch (error) {
        console.error(`cannot delete network namespace ${name}:`, (error as Error).message);
      }
    }
  };

  try {
    for (const ns of [node, ...pods]) {
      ip('netns', 'add', ns.name);
      created.push(ns.name);
      ip('-n', ns.name, 'link', 'set', 'lo', 'up');
    }
    ip('-n', node.name, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', node.name, 'addr', 'add', `${node.ip}/24`, 'dev', 'br0');
    ip('-n', node.name, 'link', 'set', 'br0', 'up');
    pods.forEach((pod, i) => {
      ip('-n', node.name, 'link', 'add', `veth${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name);
      ip('-n', node.name, 'link', 'set', `veth${i}`, 'master', 'br0', 'up');
      ip('-n', pod.name, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0');
      ip('-n', pod.name, 'link', 'set', 'eth0', 'up');
    });
  } catch (error) {
    await close();
    throw error;
  }

  const inNamespace = (ns: Namespace, command: string, args: readonly string[], uid: number | undefined) => [
    'netns',
    'exec',
    ns.name,
    ...(uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--']),
    command,
    ...args,
  ];

  return {
    node,
    pods,
    close,
    exec: (ns, command, args, options = {}) =>
      new Promise((resolve) => {
        execFile(
          'ip',
          inNamespace(ns, command, args, options.uid),
          { timeout: options.timeoutMs ?? 15_000, env: options.env ?? process.env, encoding: 'utf8' },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      }),
    start: (ns, name, command, args, options = {}) => {
      // `ip netns exec` and setpriv exec the command, so the PID we stop is the program's.
      const child = spawnChild({ name, command: 'ip', args: inNamespace(ns, command, args, options.uid), env: options.env ?? process.env });
      children.push(child);
      return child;
    },
  };
}
