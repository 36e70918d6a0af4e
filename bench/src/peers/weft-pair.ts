// The Weft topology, started through the real CLI as a user would: `weft control-plane`
// with a mesh config, then `weft proxy` twice — B beside the app (inbound), A beside the
// client (outbound) — so requests go client → A → B → app.
//
// The sidecar-to-sidecar hop is plaintext until issue 3 (workload identity) lands. Then it
// needs: the control plane's CA (created in its data dir by default), a join token per
// sidecar (`weft token create --service X`), and `--token` + `--trust-bundle` on
// `weft proxy`. All of that lives in `identityArgs` below; `--weft-security auto` uses it
// as soon as the CLI has a `token` command, and falls back to plaintext (saying so) if
// that fails.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Child } from '@weft/cli/child-process';
import { WEFT_BIN } from '@weft/cli/local-mesh';
import { stringify } from 'yaml';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { probe, waitUntil } from './http-probe.ts';
import { STARTUP_MS, startControlPlane, startSidecar } from './weft-processes.ts';

export type WeftSecurity = 'auto' | 'plaintext' | 'mtls';

/** How the A → B hop ran, for every table and RESULTS.md. */
export type WeftHop = { readonly kind: 'mtls' } | { readonly kind: 'plaintext'; readonly why: string };

export interface WeftPair {
  readonly controlPlane: Child;
  readonly a: Child;
  readonly b: Child;
  /** A's outbound listener; requests carry `Host: <APP_SERVICE>`. */
  readonly outboundPort: number;
  readonly adminUrl: string;
  readonly hop: WeftHop;
}

export interface WeftPairOptions {
  readonly dir: string;
  readonly logDir: string;
  readonly appPort: number;
  readonly cpus: string | undefined;
  readonly security: WeftSecurity;
  /** Write V8 CPU profiles of both sidecars here (node --cpu-prof) when set. */
  readonly cpuProfDir?: string | undefined;
}

export const APP_SERVICE = 'app';
const CLIENT_SERVICE = 'client';
const PLAINTEXT: WeftHop = { kind: 'plaintext', why: 'mTLS between sidecars lands with issue 3 (workload identity)' };

export function pairMeshYaml(): string {
  const service = (name: string) =>
    stringify({ apiVersion: 'weft.io/v1alpha1', kind: 'Service', metadata: { name }, spec: { protocol: 'http', port: 80 } });
  return [service(APP_SERVICE), service(CLIENT_SERVICE)].join('---\n');
}

/** True once the CLI lists a `token` command (issue 3: join tokens). */
export function weftHasIdentity(): boolean {
  const help = spawnSync(process.execPath, [WEFT_BIN, '--help'], { encoding: 'utf8', timeout: 20_000 });
  return /^\s+token\b/m.test(help.stdout ?? '');
}

export async function startWeftPair(processes: OwnedProcesses, options: WeftPairOptions): Promise<WeftPair> {
  const wantMtls = options.security === 'mtls' || (options.security === 'auto' && weftHasIdentity());
  try {
    return await start(processes, options, wantMtls);
  } catch (error) {
    if (!wantMtls || options.security === 'mtls') throw error;
    const why = `mTLS setup failed (${(error as Error).message.split('\n')[0]}); see identityArgs in bench/src/peers/weft-pair.ts`;
    console.error(`! Weft: ${why}; measuring the plaintext hop instead`);
    return { ...(await start(processes, options, false)), hop: { kind: 'plaintext', why } };
  }
}

async function start(processes: OwnedProcesses, options: WeftPairOptions, mtls: boolean): Promise<WeftPair> {
  const started: Child[] = [];
  try {
    const suffix = mtls ? '-mtls' : '';
    const common = { dir: options.dir, logDir: options.logDir, cpus: options.cpus };
    const cp = await startControlPlane(processes, { ...common, name: `weft-control-plane${suffix}`, meshYaml: pairMeshYaml() });
    started.push(cp.child);
    const sidecar = async (role: 'a' | 'b', service: string, appPort?: number) => {
      const identity = mtls ? await identityArgs(processes, cp.adminUrl, cp.dataDir, service) : [];
      return startSidecar(processes, {
        ...common,
        name: `weft-${role}${suffix}`,
        cpuProfDir: options.cpuProfDir,
        service,
        controlPlane: cp.xds,
        extraArgs: identity,
        ...(appPort === undefined ? {} : { appPort }),
      });
    };
    const b = await sidecar('b', APP_SERVICE, options.appPort);
    started.push(b.child);
    const a = await sidecar('a', CLIENT_SERVICE);
    started.push(a.child);
    // Ready means configured; wait until A also knows B's endpoint and the path works.
    await waitUntil(async () => (await probe(a.outboundPort, '/', APP_SERVICE)) === 200, 'a request through the pair', STARTUP_MS);
    return {
      controlPlane: cp.child,
      a: a.child,
      b: b.child,
      outboundPort: a.outboundPort,
      adminUrl: cp.adminUrl,
      hop: mtls ? { kind: 'mtls' } : PLAINTEXT,
    };
  } catch (error) {
    await Promise.all(started.map((c) => c.stop()));
    throw error;
  }
}

/** What `weft proxy` needs for mTLS once issue 3 lands: a join token for its service and
 * the trust bundle (the control plane's root). The one place to adjust when the real
 * flags or file names differ. */
async function identityArgs(processes: OwnedProcesses, adminUrl: string, dataDir: string, service: string): Promise<string[]> {
  const result = await processes.run(process.execPath, [WEFT_BIN, 'token', 'create', '--service', service, '--server', adminUrl], {
    timeoutMs: 20_000,
  });
  const token = result.stdout.trim().split('\n').at(-1)?.trim();
  if (result.code !== 0 || !token) throw new Error(`weft token create failed: ${result.stderr.trim() || result.stdout.trim()}`);
  return ['--token', token, '--trust-bundle', findTrustBundle(dataDir)];
}

/** The control plane's root certificate: a PEM in its data dir holding a certificate and
 * no key, preferring names that say root, ca or bundle. */
function findTrustBundle(dataDir: string): string {
  const candidates: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.pem') || name.endsWith('.crt')) {
        const text = readFileSync(path, 'utf8');
        if (text.includes('BEGIN CERTIFICATE') && !text.includes('PRIVATE KEY')) candidates.push(path);
      }
    }
  };
  walk(dataDir);
  candidates.sort((x, y) => Number(/root|ca|bundle/i.test(y)) - Number(/root|ca|bundle/i.test(x)));
  if (!candidates[0]) throw new Error(`no CA certificate found in ${dataDir}`);
  return candidates[0];
}
