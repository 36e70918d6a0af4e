// Config changes reach running sidecars without a restart: `weft apply` during steady
// traffic fails no request and takes effect within a second; invalid config is refused
// whole with errors that name the field, and the old config keeps serving; a change a
// sidecar rejects (NACK: here a TCP listener whose port is taken) is reported by
// `weft apply --wait` and `weft status`.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appOf,
  onCleanup,
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
const baseConfig = yamlDocs(service('client'), service('orders'), route('orders', { hosts: ['orders'], rules: [{ backends: [v1] }] }));

async function mesh() {
  const cp = await startControlPlane({ config: baseConfig });
  const [appV1, appV2] = await Promise.all([startApp('orders-v1'), startApp('orders-v2')]);
  const [client] = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
    startSidecar({ service: 'orders', labels: { version: 'v1' }, controlPlane: cp.xdsAddress, appPort: appV1.port }),
    startSidecar({ service: 'orders', labels: { version: 'v2' }, controlPlane: cp.xdsAddress, appPort: appV2.port }),
  ]);
  await waitForMeshSync(cp, 3);
  return { cp, client };
}

function writeTemp(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

interface Sample {
  readonly startedAt: number;
  readonly status: number;
  readonly app: string;
}

/** Steady traffic (4 concurrent callers) until stopped; bounded by count and time. */
function steadyTraffic(port: number) {
  const samples: Sample[] = [];
  const failures: string[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let running = true;
  const deadline = Date.now() + 30_000;
  const caller = async () => {
    while (running && Date.now() < deadline && samples.length + failures.length < 50_000) {
      const startedAt = Date.now();
      try {
        const reply = await send({ port, host: 'orders', agent });
        if (reply.status !== 200) failures.push(`${reply.status} ${reply.body}`);
        else samples.push({ startedAt, status: reply.status, app: appOf(reply) });
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const callers = Promise.all([caller(), caller(), caller(), caller()]);
  return {
    samples,
    failures,
    async stop() {
      running = false;
      await callers;
      agent.destroy();
    },
  };
}

describe('live config', () => {
  it('applies a route change under traffic with zero failed requests, within one second', async () => {
    const { cp, client } = await mesh();
    const traffic = steadyTraffic(client.outboundPort);
    await waitUntil(
      () => traffic.samples.length > 200,
      10_000,
      () => 'traffic to start',
    );
    const file = writeTemp('route.yaml', route('orders', { hosts: ['orders'], rules: [{ backends: [v2] }] }));
    const result = await weft(['apply', '-f', file, '--wait', '--server', cp.adminUrl]);
    const appliedAt = Date.now();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Route\/default\/orders updated/);
    expect(result.stdout).toMatch(/change \d+ applied by all 3 sidecars/);
    // --wait returned only after every sidecar ACKed: from here on, only v2 answers.
    await waitUntil(
      () => traffic.samples.some((s) => s.startedAt > appliedAt + 200),
      5_000,
      () => 'more traffic',
    );
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
    const late = traffic.samples.filter((s) => s.startedAt > appliedAt);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((s) => s.app === 'orders-v2')).toBe(true);
    // And it took effect within a second of the command starting.
    const firstV2 = traffic.samples.find((s) => s.app === 'orders-v2');
    expect(firstV2).toBeDefined();
    const lastV1 = traffic.samples.filter((s) => s.app === 'orders-v1').at(-1);
    expect((firstV2?.startedAt ?? 0) - (lastV1?.startedAt ?? 0)).toBeLessThan(1000);
  });

  it('rejects invalid config whole, naming each field, and keeps serving the old config', async () => {
    const { cp, client } = await mesh();
    const bad = writeTemp(
      'bad.yaml',
      yamlDocs(
        route('orders', {
          hosts: ['orders'],
          rules: [
            { match: { path: { regex: '/items/(' } }, backends: [v2] },
            {
              backends: [
                { ...v1, weight: 50 },
                { ...v2, weight: 40 },
              ],
            },
            { backends: [{ service: 'payments' }] },
          ],
        }),
        service('extra'),
      ),
    );
    const result = await weft(['apply', '-f', bad, '--server', cp.adminUrl]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('bad.yaml rejected; nothing was changed');
    expect(result.stderr).toMatch(
      /bad\.yaml:\d+, document 1, Route default\/orders: spec\.rules\[0\]\.match\.path\.regex: invalid regular expression/,
    );
    expect(result.stderr).toContain('spec.rules[1].backends: weights add up to 90; they must add up to 100');
    // Reference errors come from checking the whole mesh and still name the document.
    const whole = await weft([
      'apply',
      '-f',
      writeTemp('ref.yaml', route('orders', { hosts: ['orders'], rules: [{ backends: [{ service: 'payments' }] }] })),
      '--server',
      cp.adminUrl,
    ]);
    expect(whole.code).toBe(1);
    expect(whole.stderr).toContain(
      'ref.yaml, document 1, Route default/orders: spec.rules[0].backends[0].service: no Service "payments" in namespace "default"',
    );
    // Nothing was applied: the extra Service from the same file is not there, v1 still serves.
    const config = (await (await fetch(`${cp.adminUrl}/api/config`)).json()) as { resources: { metadata: { name: string } }[] };
    expect(config.resources.map((r) => r.metadata.name).sort()).toEqual(['client', 'orders', 'orders']);
    expect(appOf(await send({ port: client.outboundPort, host: 'orders' }))).toBe('orders-v1');
  });

  it('reloads the watched file, refusing an invalid edit and keeping the last good config', async () => {
    const { cp, client } = await mesh();
    writeFileSync(
      cp.configPath,
      `${baseConfig}---\napiVersion: weft.io/v1alpha1\nkind: Route\nmetadata: {name: broken}\nspec:\n  hosts: [orders]\n  rulez: []\n`,
    );
    const rejected = await cp.child.waitFor(
      (l) => l['msg'] === 'config file rejected; keeping the last good config',
      5_000,
      'the rejection',
    );
    expect(String(rejected['error'])).toMatch(/mesh\.yaml:\d+, document 4, Route default\/broken: spec/);
    expect(appOf(await send({ port: client.outboundPort, host: 'orders' }))).toBe('orders-v1');

    writeFileSync(cp.configPath, baseConfig.replace('version: v1', 'version: v2'));
    await cp.child.waitFor((l) => l['msg'] === 'config file reloaded', 5_000, 'the reload');
    await waitForMeshSync(cp, 3);
    expect(appOf(await send({ port: client.outboundPort, host: 'orders' }))).toBe('orders-v2');
  });

  it('reports a change that sidecars reject (NACK) and keeps them serving', async () => {
    const { cp, client } = await mesh();
    // The client declares that it calls a TCP service whose port is taken on its host: its
    // sidecar cannot open the listener, so it NACKs the update; the orders sidecars are not sent it.
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    onCleanup(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const taken = (blocker.address() as AddressInfo).port;
    const db = writeTemp('db.yaml', service('db', { protocol: 'tcp', port: taken }));
    const tcp = writeTemp('tcp.yaml', yamlDocs(service('db', { protocol: 'tcp', port: taken }), service('client', { calls: ['db'] })));
    const result = await weft(['apply', '-f', tcp, '--wait', '--timeout', '10', '--server', cp.adminUrl]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/change \d+ did not land everywhere: 1 sidecar\(s\) rejected it/);
    expect(result.stdout).toMatch(
      new RegExp(`NACKED\\s+listener: Listener "tcp:db\\.default": port: cannot listen on 127\\.0\\.0\\.1:${taken}: EADDRINUSE`),
    );

    const status = await weft(['status', '--server', cp.adminUrl]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/client-\S+\s+client\.default\s+-\s+NACKED/);
    expect(status.stdout).toContain('NACKED listener: Listener "tcp:db.default"');
    // Still serving with the last good config.
    expect(appOf(await send({ port: client.outboundPort, host: 'orders' }))).toBe('orders-v1');

    await weft(['apply', '-f', writeTemp('client.yaml', service('client')), '--server', cp.adminUrl]);
    const removed = await weft(['delete', '-f', db, '--server', cp.adminUrl]);
    expect(removed.stdout).toContain('Service/default/db deleted');
    await waitForMeshSync(cp, 3);
  });
});
