// Makes sure the peers and load generators are installed: Debian packages through apt-get
// when a command is missing (root only). Installing never starts a system service: without
// a policy-rc.d in place, one that forbids starting services is put there for the install.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

export interface Tool {
  readonly command: string;
  readonly debianPackage: string;
}

export const TOOLS: readonly Tool[] = [
  { command: 'haproxy', debianPackage: 'haproxy' },
  { command: 'nginx', debianPackage: 'nginx' },
  { command: 'wrk', debianPackage: 'wrk' },
  { command: 'h2load', debianPackage: 'nghttp2-client' },
  { command: 'hey', debianPackage: 'hey' },
  { command: 'openssl', debianPackage: 'openssl' },
  { command: 'taskset', debianPackage: 'util-linux' },
];

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

export function isInstalled(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs what is missing; throws with the apt-get output when that fails. */
export function ensureTools(say: (line: string) => void, tools: readonly Tool[] = TOOLS): void {
  const missing = tools.filter((t) => !isInstalled(t.command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((t) => t.debianPackage))];
  if (process.getuid?.() !== 0) {
    throw new Error(`missing ${missing.map((t) => t.command).join(', ')}; install them with: sudo apt-get install ${packages.join(' ')}`);
  }
  say(`installing ${packages.join(' ')} (apt-get)`);
  const policyAdded = !existsSync(POLICY_RC_D);
  if (policyAdded)
    writeFileSync(POLICY_RC_D, '#!/bin/sh\n# added by weft bench for one apt-get install: start no services\nexit 101\n', { mode: 0o755 });
  try {
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
  } finally {
    if (policyAdded) rmSync(POLICY_RC_D, { force: true });
  }
  const still = missing.filter((t) => !isInstalled(t.command));
  if (still.length > 0)
    throw new Error(`apt-get installed ${packages.join(' ')} but ${still.map((t) => t.command).join(', ')} is still missing`);
}

function apt(args: readonly string[]): void {
  const result = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed:\n${(result.stderr || result.stdout || '').slice(-2000)}`);
}
