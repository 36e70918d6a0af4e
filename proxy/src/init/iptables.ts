// Runs iptables with the nf_tables backend: finds iptables-nft-save/-restore (or plain
// iptables-save/-restore when they are the nft variant), reads the nat table, applies a
// transaction. Failures come back as values with iptables' own words and what to do.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Iptables {
  readonly save: string;
  readonly restore: string;
  /** `nft`, when installed: only used to drop a nat table weft created and left empty. */
  readonly nft: string | undefined;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

const RUN_TIMEOUT_MS = 15_000;
const CAP_NET_ADMIN = 12;

/** Root, or CAP_NET_ADMIN, in this network namespace; undefined when it can't be told (not Linux). */
export function hasNetAdmin(status = readProcStatus()): boolean | undefined {
  if (status === undefined) return undefined;
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) return undefined;
  return (BigInt(`0x${hex}`) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n;
}

function readProcStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}

export async function findIptables(path = process.env['PATH'] ?? ''): Promise<Outcome<Iptables>> {
  const which = (name: string) => {
    for (const dir of path.split(delimiter)) {
      if (!dir) continue;
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {}
    }
    return undefined;
  };
  const nft = which('nft');
  const save = which('iptables-nft-save');
  const restore = which('iptables-nft-restore');
  if (save && restore) return { ok: true, value: { save, restore, nft } };
  const plainSave = which('iptables-save');
  const plainRestore = which('iptables-restore');
  if (plainSave && plainRestore) {
    const version = await run(plainRestore, ['--version']);
    if (version.ok && version.value.includes('nf_tables')) return { ok: true, value: { save: plainSave, restore: plainRestore, nft } };
    return {
      ok: false,
      error: `${plainRestore} is iptables with the legacy backend (${version.ok ? version.value.trim() : version.error}); weft init needs the nf_tables backend: install iptables 1.8 or later (Debian: apt-get install iptables), which provides iptables-nft`,
    };
  }
  return {
    ok: false,
    error:
      'iptables not found on PATH (looked for iptables-nft-save and iptables-nft-restore): install it (Debian: apt-get install iptables)',
  };
}

/** Every table that exists (`-t nat` would print an empty nat table even when there is
 * none, hiding whether it exists). */
export function readTables(iptables: Iptables): Promise<Outcome<string>> {
  return run(iptables.save, []);
}

export async function applyTransaction(iptables: Iptables, transaction: string): Promise<Outcome<void>> {
  const result = await run(iptables.restore, ['--noflush'], transaction);
  return result.ok ? { ok: true, value: undefined } : result;
}

/** Drops the nat table if it holds no chain at all; never an error (only tidiness is at stake). */
export async function dropNatTableIfEmpty(iptables: Iptables): Promise<boolean> {
  if (!iptables.nft) return false;
  const listing = await run(iptables.nft, ['list', 'table', 'ip', 'nat']);
  if (!listing.ok || /\bchain\b/.test(listing.value)) return false;
  return (await run(iptables.nft, ['delete', 'table', 'ip', 'nat'])).ok;
}

function run(command: string, args: readonly string[], input?: string): Promise<Outcome<string>> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `${command}: ${error.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true, value: stdout });
      else
        resolve({
          ok: false,
          error: `${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`,
        });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}
