// Transparent interception for real: two pods (network namespaces joined by a bridge), each
// with an app and its sidecar under their own uids, `weft init` in each, the control plane
// and a destination outside the mesh in the bridge's namespace. The app calls the other pod
// by plain http://<ip>:<port>/ and never learns about the mesh; the call must arrive over
// mTLS with the caller's identity, and `weft init --uninstall` must leave the rules exactly
// as they were. Needs root, iproute2, iptables (nft) and curl: skipped with the reason
// otherwise.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEFT_BIN } from '@weft/cli/local-mesh';
import { addonState } from '@weft/original-dst';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil, weft } from '../src/harness/index.ts';
import { createPodNetwork, type Namespace, type PodNetwork, podNetworkUnavailable } from '../src/netns/pod-network.ts';

const PEER = join(import.meta.dirname, '../src/netns/peer.ts');
const NODE = process.execPath;
/** The uids of the sidecars (the injector's) and of the apps. */
const PROXY_UID = 2102;
const APP_UID = 2200;
// Inside the pods' own namespaces nothing else listens, but the defaults stay out of tests.
const INBOUND_PORT = 16006;
const OUTBOUND_PORT = 16001;
const ADMIN_PORT = 16020;
const APP_PORT = 8080;
const OUTSIDE_HTTP_PORT = 9080;
const OUTSIDE_TCP_PORT = 9081;
const EXCLUDED_PORT = 9082;
const ALPHA_ID = 'spiffe://cluster.local/ns/default/sa/alpha';

const unavailable = podNetworkUnavailable() ?? (addonState.available ? undefined : `original-dst addon: ${addonState.reason}`);
if (unavailable) console.warn(`interception e2e skipped: ${unavailable}`);

const MESH = `apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: alpha}
spec: {port: ${APP_PORT}}
---
apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: beta}
spec: {port: ${APP_PORT}}
`;

interface Echo {
  app: string;
  url: string;
  headers: Record<string, string>;
  remote: string;
}

describe.skipIf(unavailable !== undefined)('transparent interception in network namespaces', () => {
  let net: PodNetwork;
  let alpha: Namespace;
  let beta: Namespace;
  let xdsPort: number;
  const rulesBefore = new Map<string, string>();
  // Kept for the whole file (the harness's tempDir is cleaned after each test).
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  /** iptables-save and nft list ruleset, without timestamps and packet counters. */
  const ruleset = async (ns: Namespace) => {
    const [save, nft] = await Promise.all([net.exec(ns, 'iptables-save', []), net.exec(ns, 'nft', ['--stateless', 'list', 'ruleset'])]);
    expect(save.code, save.stderr).toBe(0);
    expect(nft.code, nft.stderr).toBe(0);
    return `${save.stdout.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]')}--- nft ---\n${nft.stdout}`;
  };

  const init = (ns: Namespace, extra: readonly string[] = []) =>
    net.exec(ns, NODE, [
      WEFT_BIN,
      'init',
      '--proxy-uid',
      String(PROXY_UID),
      '--inbound-port',
      String(INBOUND_PORT),
      '--outbound-port',
      String(OUTBOUND_PORT),
      '--capture-inbound-ports',
      String(APP_PORT),
      '--exclude-outbound-ports',
      `${xdsPort},${EXCLUDED_PORT}`,
      ...extra,
    ]);

  /** The app in `ns` calls a URL with curl, as the app's uid: it knows nothing of the mesh. */
  const appCalls = async (ns: Namespace, url: string, curlArgs: readonly string[] = []) => {
    const result = await net.exec(ns, 'curl', ['-sS', '--max-time', '10', '-D', '-', ...curlArgs, url], { uid: APP_UID });
    expect(result.code, `curl ${url}: ${result.stderr}`).toBe(0);
    const [head = '', body = ''] = result.stdout.split('\r\n\r\n');
    return { head, body, status: Number(head.split(' ')[1]) };
  };

  beforeAll(async () => {
    net = await createPodNetwork(2);
    [alpha, beta] = net.pods as [Namespace, Namespace];

    // Control plane on the bridge, provisioned offline with a token per sidecar.
    const dataDir = tempDir('weft-netns-cp-');
    const ca = await weft(['ca', 'init', '--data-dir', dataDir]);
    expect(ca.code, ca.stderr).toBe(0);
    // The sidecars run as their own uid: give them a copy of the bundle they can read.
    const shared = tempDir('weft-netns-shared-');
    chmodSync(shared, 0o755);
    const bundle = join(shared, 'trust-bundle.pem');
    copyFileSync(ca.stdout.trim(), bundle);
    chmodSync(bundle, 0o644);
    const configDir = join(shared, 'config');
    mkdirSync(configDir);
    writeFileSync(join(configDir, 'mesh.yaml'), MESH);
    const tokens: Record<string, string> = {};
    for (const service of ['alpha', 'beta']) {
      const token = await weft(['token', 'create', '--data-dir', dataDir, '--service', service]);
      expect(token.code, token.stderr).toBe(0);
      tokens[service] = token.stdout.trim();
    }
    const cp = net.start(net.node, 'control-plane', NODE, [
      WEFT_BIN,
      'control-plane',
      '--config',
      join(configDir, 'mesh.yaml'),
      '--data-dir',
      dataDir,
      '--host',
      net.node.ip,
      '--admin-host',
      '127.0.0.1',
      '--xds-port',
      '0',
      '--admin-port',
      '0',
    ]);
    const listening = await cp.waitFor((l) => l['msg'] === 'control plane listening', 20_000, 'the control plane to listen');
    xdsPort = Number(String(listening['xds']).split(':').at(-1));
    const adminUrl = String(listening['admin']);

    // Destinations outside the mesh, on the bridge.
    for (const [name, args] of [
      ['outside http', ['http', 'outside', String(OUTSIDE_HTTP_PORT)]],
      ['outside tcp', ['tcp-echo', String(OUTSIDE_TCP_PORT)]],
      ['outside excluded', ['http', 'excluded', String(EXCLUDED_PORT)]],
    ] as const) {
      const child = net.start(net.node, name, NODE, [PEER, ...args]);
      await child.waitFor((l) => l['msg'] === 'listening', 10_000, `${name} to listen`);
    }

    // Rules that were there before (beta's): weft init must leave them as they are.
    await net.exec(beta, 'iptables', ['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.1/32', '-j', 'RETURN']);
    await net.exec(beta, 'iptables', ['-t', 'nat', '-A', 'PREROUTING', '-s', '192.0.2.2/32', '-j', 'RETURN']);
    await net.exec(beta, 'iptables', ['-A', 'INPUT', '-s', '192.0.2.3/32', '-j', 'ACCEPT']);
    const startPod = async (pod: Namespace, service: string) => {
      rulesBefore.set(pod.name, await ruleset(pod));
      // As on Kubernetes: interception first (weft-init), then the sidecar, then the app.
      const installed = await init(pod);
      expect(installed.code, installed.stderr).toBe(0);
      const sidecar = net.start(
        pod,
        `sidecar ${service}`,
        NODE,
        [
          WEFT_BIN,
          'proxy',
          '--service',
          service,
          '--node-id',
          `${service}-0`,
          '--control-plane',
          `${net.node.ip}:${xdsPort}`,
          '--app-port',
          String(APP_PORT),
          '--inbound-host',
          '0.0.0.0',
          '--inbound-port',
          String(INBOUND_PORT),
          '--outbound-port',
          String(OUTBOUND_PORT),
          '--admin-port',
          String(ADMIN_PORT),
          '--drain-ms',
          '0',
        ],
        {
          uid: PROXY_UID,
          env: { ...process.env, WEFT_TOKEN: tokens[service], WEFT_TRUST_BUNDLE: bundle, WEFT_XDS_BACKOFF_BASE_MS: '50' },
        },
      );
      await sidecar.waitFor((l) => l['msg'] === 'sidecar listening', 20_000, `sidecar ${service} to listen`);
      const app = net.start(pod, `app ${service}`, NODE, [PEER, 'http', service, String(APP_PORT)], { uid: APP_UID });
      await app.waitFor((l) => l['msg'] === 'listening', 10_000, `app ${service} to listen`);
    };
    await Promise.all([startPod(alpha, 'alpha'), startPod(beta, 'beta')]);
    // Both sidecars connected and holding the latest change: each knows the other's endpoint.
    await waitUntil(
      async () => {
        const status = await net.exec(net.node, 'curl', ['-sf', `${adminUrl}/api/status`]);
        if (status.code !== 0) return false;
        const { changeId, sidecars } = JSON.parse(status.stdout) as { changeId: number; sidecars: { syncedChangeId: number }[] };
        return sidecars.length === 2 && sidecars.every((s) => s.syncedChangeId >= changeId);
      },
      20_000,
      () => 'both sidecars synced with the control plane',
      200,
    );
  }, 90_000);

  afterAll(async () => {
    await net?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('carries a call to another pod’s IP over mTLS, with the caller’s identity', async () => {
    const reply = await appCalls(alpha, `http://${beta.ip}:${APP_PORT}/orders?id=7`);
    expect(reply.status).toBe(200);
    // Through alpha's outbound listener…
    expect(reply.head.toLowerCase()).toContain('x-weft-attempts: 1');
    const echo = JSON.parse(reply.body) as Echo;
    // …and beta's inbound one, which forwards to the app on loopback.
    expect(echo.app).toBe('beta');
    expect(echo.url).toBe('/orders?id=7');
    expect(echo.headers['x-weft-peer-identity']).toBe(ALPHA_ID);
    expect(echo.headers['host']).toBe(`${beta.ip}:${APP_PORT}`);
    expect(echo.remote).toBe('127.0.0.1');
  });

  it('routes by Host when the Host names a mesh service, whatever address it was sent to', async () => {
    // "beta" resolves to an address where nothing listens: only the Host can route this.
    const reply = await appCalls(alpha, `http://beta:${APP_PORT}/by-name`, ['--resolve', `beta:${APP_PORT}:10.77.0.99`]);
    expect(reply.status).toBe(200);
    const echo = JSON.parse(reply.body) as Echo;
    expect([echo.app, echo.url, echo.headers['x-weft-peer-identity']]).toEqual(['beta', '/by-name', ALPHA_ID]);
  });

  it('passes HTTP to a destination outside the mesh on unchanged', async () => {
    const reply = await appCalls(alpha, `http://${net.node.ip}:${OUTSIDE_HTTP_PORT}/out`, ['-H', 'x-custom: kept']);
    expect(reply.status).toBe(200);
    const echo = JSON.parse(reply.body) as Echo;
    expect(echo.app).toBe('outside');
    expect(echo.remote).toBe(alpha.ip);
    expect(echo.headers['x-custom']).toBe('kept');
    for (const added of ['x-weft-peer-identity', 'x-forwarded-for', 'x-request-id']) expect(echo.headers[added], added).toBeUndefined();
  });

  it('pipes bytes that are not HTTP to where they were going', async () => {
    const bytes = '160301000501020304ff00';
    const sent = await net.exec(alpha, NODE, [PEER, 'send', net.node.ip, String(OUTSIDE_TCP_PORT), bytes], { uid: APP_UID });
    expect(sent.stderr).toBe('');
    expect(sent.stdout).toBe(bytes);
  });

  it('leaves excluded ports alone', async () => {
    // Intercepted, Host "beta" would reach the beta app; excluded, it reaches the server dialled.
    const reply = await appCalls(alpha, `http://${net.node.ip}:${EXCLUDED_PORT}/`, ['-H', 'host: beta']);
    expect((JSON.parse(reply.body) as Echo).app).toBe('excluded');
  });

  it('sends inbound traffic for the app to the sidecar, which refuses plaintext (strict mTLS)', async () => {
    const result = await net.exec(net.node, 'curl', ['-sS', '--max-time', '10', `http://${beta.ip}:${APP_PORT}/`]);
    expect(result.stdout).toContain('accepts mutual TLS only');
  });

  it('installs the same rules when run again', async () => {
    const once = await ruleset(alpha);
    const again = await init(alpha);
    expect(again.code, again.stderr).toBe(0);
    expect(await ruleset(alpha)).toBe(once);
  });

  it('takes out exactly what it added on --uninstall, after which calls go straight to the app', async () => {
    await Promise.all(
      [alpha, beta].map(async (pod) => {
        const removed = await net.exec(pod, NODE, [WEFT_BIN, 'init', '--uninstall']);
        expect(removed.code, removed.stderr).toBe(0);
        expect(await ruleset(pod)).toBe(rulesBefore.get(pod.name));
      }),
    );
    const direct = JSON.parse((await appCalls(alpha, `http://${beta.ip}:${APP_PORT}/`)).body) as Echo;
    expect([direct.app, direct.remote, direct.headers['x-weft-peer-identity']]).toEqual(['beta', alpha.ip, undefined]);
    const nothing = await net.exec(alpha, NODE, [WEFT_BIN, 'init', '--uninstall']);
    expect(nothing.stdout).toContain('nothing to remove');
  });

  it('says what is missing when it is not root or has no iptables', async () => {
    const notRoot = await net.exec(alpha, NODE, [WEFT_BIN, 'init'], { uid: APP_UID });
    expect(notRoot.code).toBe(1);
    expect(notRoot.stderr).toContain('weft init must run as root (or with CAP_NET_ADMIN)');
    const noIptables = await net.exec(alpha, 'env', ['PATH=/nonexistent', NODE, WEFT_BIN, 'init']);
    expect(noIptables.code).toBe(1);
    expect(noIptables.stderr).toContain('iptables not found on PATH');
  });
});
