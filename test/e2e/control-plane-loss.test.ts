// Sidecars do not depend on the control plane being up: one started first connects when
// the control plane appears (backoff with jitter), and a control-plane restart leaves
// them serving with what they have, after which they resync.

import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { freePort } from '@weft/cli/free-port';
import { describe, expect, it } from 'vitest';
import {
  appOf,
  route,
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  tempDir,
  waitForMeshSync,
  waitUntil,
  weft,
  yamlDocs,
} from '../src/harness/index.ts';

const v1 = { service: 'orders', subset: { version: 'v1' } };
const v2 = { service: 'orders', subset: { version: 'v2' } };
const config = yamlDocs(service('client'), service('orders'), route('orders', { hosts: ['orders'], rules: [{ backends: [v1] }] }));

describe('control plane loss', () => {
  it('connects a sidecar started before the control plane once it appears', async () => {
    const xdsPort = await freePort();
    const app = await startApp('orders-v1');
    const orders = await startSidecar({
      service: 'orders',
      labels: { version: 'v1' },
      controlPlane: `127.0.0.1:${xdsPort}`,
      appPort: app.port,
    });
    const client = await startSidecar({ service: 'client', controlPlane: `127.0.0.1:${xdsPort}` });
    // Not ready without config: it has nothing to route with yet.
    const early = await fetch(`http://127.0.0.1:${client.adminPort}/ready`);
    expect(early.status).toBe(503);
    expect(((await early.json()) as { controlPlane: string }).controlPlane).not.toBe('connected');
    // Its first step, getting a certificate from the control plane's CA, fails and is retried.
    await client.child.waitFor((l) => l['msg'] === 'certificate request failed; retrying', 5_000, 'a failed attempt');

    const cp = await startControlPlane({ config, xdsPort });
    await Promise.all([orders.waitReady(10_000), client.waitReady(10_000)]);
    await waitForMeshSync(cp, 2);
    expect(appOf(await send({ port: client.outboundPort, host: 'orders' }))).toBe('orders-v1');
  });

  it('keeps sidecars serving through a control-plane restart, then resyncs them', async () => {
    const dataDir = tempDir('weft-cp-');
    const configPath = join(tempDir(), 'mesh.yaml');
    writeFileSync(configPath, config);
    const cp = await startControlPlane({ dataDir, configPath });
    const [appV1, appV2] = await Promise.all([startApp('orders-v1'), startApp('orders-v2')]);
    const [client] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'orders', labels: { version: 'v1' }, controlPlane: cp.xdsAddress, appPort: appV1.port }),
      startSidecar({ service: 'orders', labels: { version: 'v2' }, controlPlane: cp.xdsAddress, appPort: appV2.port }),
    ]);
    await waitForMeshSync(cp, 3);
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const failures: string[] = [];
    let served = 0;
    const call = async () => {
      const reply = await send({ port: client.outboundPort, host: 'orders', agent }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (reply.status === 200) served += 1;
      else failures.push(`${reply.status} ${reply.body}`);
    };

    // The client has been calling orders (config is learned on first use).
    await call();
    // The control plane dies hard: no goodbye to the sidecars.
    await cp.child.kill();
    for (let i = 0; i < 50; i++) await call();
    expect(failures).toEqual([]);

    // Same ports, same data directory: the sidecars find it again on their own.
    const [, xdsPort] = cp.xdsAddress.split(':');
    const [, , adminPort] = cp.adminUrl.split(':');
    const restarted = await startControlPlane({ dataDir, configPath, xdsPort: Number(xdsPort), adminPort: Number(adminPort) });
    const traffic = (async () => {
      for (let i = 0; i < 200 && failures.length === 0; i++) await call();
    })();
    await waitForMeshSync(restarted, 3);
    await traffic;
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThanOrEqual(50);

    // Resynced: a change made after the restart reaches every sidecar.
    const file = join(tempDir(), 'v2.yaml');
    writeFileSync(file, route('orders', { hosts: ['orders'], rules: [{ backends: [v2] }] }));
    const applied = await weft(['apply', '-f', file, '--wait', '--server', restarted.adminUrl]);
    expect(applied.stdout).toMatch(/applied by all 3 sidecars/);
    await waitUntil(async () => appOf(await send({ port: client.outboundPort, host: 'orders', agent })) === 'orders-v2', 2_000);
    agent.destroy();
  });
});
