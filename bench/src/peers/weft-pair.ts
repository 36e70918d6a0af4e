// The Weft topology, started through the real CLI as a user would: `weft control-plane`
// with a mesh config, then `weft proxy` twice — B beside the app (inbound), A beside the
// client (outbound) — so requests go client → A → B → app (HTTP/2: → B' → the app's h2c port, B' being a
// second server-side sidecar, service app-h2 with protocol http2, as HAProxy's pair has a
// frontend per protocol). Each sidecar joins with a token
// and the control plane's trust bundle (weft-processes.ts). The hop between them is mTLS
// (the default, like the HAProxy pair), or plaintext when the app's Service says
// `mtls: disabled` (`--weft-security plaintext`, to measure what mTLS costs).
import type { Child } from '@weft/cli/child-process';
import { stringify } from 'yaml';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { probe, waitUntil } from './http-probe.ts';
import { STARTUP_MS, startControlPlane, startSidecar } from './weft-processes.ts';

export type WeftSecurity = 'mtls' | 'plaintext';

/** How the A → B hop ran, for every table and RESULTS.md. */
export type WeftHop = { readonly kind: 'mtls' } | { readonly kind: 'plaintext'; readonly why: string };

export interface WeftPair {
  readonly controlPlane: Child;
  readonly a: Child;
  readonly b: Child;
  /** Beside the app's h2c port (service APP_H2_SERVICE). */
  readonly bH2: Child;
  /** A's outbound listener; requests carry `Host: <APP_SERVICE>`. */
  readonly outboundPort: number;
  readonly adminUrl: string;
  readonly hop: WeftHop;
}

export interface WeftPairOptions {
  readonly dir: string;
  readonly logDir: string;
  readonly appPort: number;
  /** The app's cleartext HTTP/2 port. */
  readonly appH2Port: number;
  readonly cpus: string | undefined;
  readonly security: WeftSecurity;
  /** Write V8 CPU profiles of both sidecars here (node --cpu-prof) when set. */
  readonly cpuProfDir?: string | undefined;
}

export const APP_SERVICE = 'app';
export const APP_H2_SERVICE = 'app-h2';
const CLIENT_SERVICE = 'client';

export function pairMeshYaml(security: WeftSecurity = 'mtls'): string {
  const service = (name: string, spec: Record<string, unknown>) =>
    stringify({ apiVersion: 'weft.io/v1alpha1', kind: 'Service', metadata: { name }, spec: { protocol: 'http', port: 80, ...spec } });
  return [
    service(APP_SERVICE, security === 'plaintext' ? { mtls: 'disabled' } : {}),
    service(APP_H2_SERVICE, { protocol: 'http2', ...(security === 'plaintext' ? { mtls: 'disabled' } : {}) }),
    // The client declares what it calls, so the first measured request needs no lookup.
    service(CLIENT_SERVICE, { calls: [APP_SERVICE, APP_H2_SERVICE] }),
  ].join('---\n');
}

export async function startWeftPair(processes: OwnedProcesses, options: WeftPairOptions): Promise<WeftPair> {
  const started: Child[] = [];
  try {
    const suffix = options.security === 'plaintext' ? '-plaintext' : '';
    const common = { dir: options.dir, logDir: options.logDir, cpus: options.cpus };
    const cp = await startControlPlane(processes, {
      ...common,
      name: `weft-control-plane${suffix}`,
      meshYaml: pairMeshYaml(options.security),
    });
    started.push(cp.child);
    const sidecar = (role: 'a' | 'b' | 'b-h2', service: string, appPort?: number) =>
      startSidecar(processes, {
        ...common,
        name: `weft-${role}${suffix}`,
        cpuProfDir: options.cpuProfDir,
        service,
        controlPlane: cp,
        ...(appPort === undefined ? {} : { appPort }),
      });
    const b = await sidecar('b', APP_SERVICE, options.appPort);
    started.push(b.child);
    const bH2 = await sidecar('b-h2', APP_H2_SERVICE, options.appH2Port);
    started.push(bH2.child);
    const a = await sidecar('a', CLIENT_SERVICE);
    started.push(a.child);
    // Ready means configured; wait until A also knows B's endpoint and the path works.
    await waitUntil(async () => (await probe(a.outboundPort, '/', APP_SERVICE)) === 200, 'a request through the pair', STARTUP_MS);
    // HTTP/1.1 to B', which speaks h2c to the app: the h2 path is configured too.
    await waitUntil(async () => (await probe(a.outboundPort, '/', APP_H2_SERVICE)) === 200, 'a request to the h2c app', STARTUP_MS);
    return {
      controlPlane: cp.child,
      a: a.child,
      b: b.child,
      bH2: bH2.child,
      outboundPort: a.outboundPort,
      adminUrl: cp.adminUrl,
      hop:
        options.security === 'plaintext'
          ? { kind: 'plaintext', why: 'the app Service has mtls: disabled (--weft-security plaintext)' }
          : { kind: 'mtls' },
    };
  } catch (error) {
    await Promise.all(started.map((c) => c.stop()));
    throw error;
  }
}
