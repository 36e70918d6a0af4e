// Routing by path (exact, prefix, regex), by header, to label-selected subsets, and
// weighted splits, through real sidecars.
import { describe, expect, it } from 'vitest';
import { appOf, route, send, service, startApp, startControlPlane, startSidecar, waitForMeshSync, yamlDocs } from '../src/harness/index.ts';

async function ordersMesh(routeSpec: unknown) {
  const cp = await startControlPlane({
    config: yamlDocs(service('client'), service('orders'), service('legacy'), route('orders', routeSpec)),
  });
  const [v1, v2, legacy] = await Promise.all([startApp('orders-v1'), startApp('orders-v2'), startApp('legacy')]);
  const sidecars = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
    startSidecar({ service: 'orders', labels: { version: 'v1' }, controlPlane: cp.xdsAddress, appPort: v1.port }),
    startSidecar({ service: 'orders', labels: { version: 'v2' }, controlPlane: cp.xdsAddress, appPort: v2.port }),
    startSidecar({ service: 'legacy', controlPlane: cp.xdsAddress, appPort: legacy.port }),
  ]);
  await waitForMeshSync(cp, 4);
  const client = sidecars[0];
  return { cp, client, apps: { v1, v2, legacy } };
}

const v1 = { service: 'orders', subset: { version: 'v1' } };
const v2 = { service: 'orders', subset: { version: 'v2' } };

describe('routing', () => {
  it('matches path exact, prefix and regex, then headers, in rule order', async () => {
    const { client } = await ordersMesh({
      hosts: ['orders'],
      rules: [
        { match: { path: { exact: '/admin' } }, backends: [{ service: 'legacy' }] },
        { match: { path: { regex: '/items/[0-9]+' } }, backends: [v2] },
        { match: { path: { prefix: '/beta' }, headers: [{ name: 'X-User', prefix: 'tester-' }] }, backends: [v2] },
        { match: { headers: [{ name: 'x-canary', exact: 'true' }] }, backends: [v2] },
        { backends: [v1] },
      ],
    });
    const get = async (path: string, headers: Record<string, string> = {}) =>
      appOf(await send({ port: client.outboundPort, host: 'orders', path, headers }));
    expect(await get('/admin')).toBe('legacy');
    expect(await get('/admin/x')).toBe('orders-v1'); // exact, not prefix
    expect(await get('/items/123')).toBe('orders-v2');
    expect(await get('/items/123/reviews')).toBe('orders-v1'); // regex matches the whole path
    expect(await get('/items/abc')).toBe('orders-v1');
    expect(await get('/beta/x', { 'x-user': 'tester-7' })).toBe('orders-v2');
    expect(await get('/beta/x', { 'x-user': 'someone' })).toBe('orders-v1');
    expect(await get('/anything', { 'x-canary': 'true' })).toBe('orders-v2');
    expect(await get('/anything?x-canary=true')).toBe('orders-v1');
    // Host matching ignores the port and accepts the qualified names.
    expect(appOf(await send({ port: client.outboundPort, host: 'orders.default.svc.cluster.local:80', path: '/admin' }))).toBe('legacy');
  });

  it('answers 404 when a routed host has no matching rule', async () => {
    const { client } = await ordersMesh({ hosts: ['orders'], rules: [{ match: { path: { prefix: '/api' } }, backends: [v1] }] });
    const reply = await send({ port: client.outboundPort, host: 'orders', path: '/other' });
    expect(reply.status).toBe(404);
    expect(reply.body).toContain('no route for host "orders" and path "/other"');
  });

  it('splits 90/10 within ±4 points over 1000 requests', async () => {
    const { client, apps } = await ordersMesh({
      hosts: ['orders'],
      rules: [
        {
          backends: [
            { ...v1, weight: 90 },
            { ...v2, weight: 10 },
          ],
        },
      ],
    });
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const counts = { 'orders-v1': 0, 'orders-v2': 0 } as Record<string, number>;
    for (let batch = 0; batch < 100; batch++) {
      const replies = await Promise.all(Array.from({ length: 10 }, () => send({ port: client.outboundPort, host: 'orders', agent })));
      for (const reply of replies) {
        expect(reply.status).toBe(200);
        const app = appOf(reply);
        counts[app] = (counts[app] ?? 0) + 1;
      }
    }
    agent.destroy();
    expect((counts['orders-v1'] ?? 0) + (counts['orders-v2'] ?? 0)).toBe(1000);
    expect(counts['orders-v2']).toBeGreaterThanOrEqual(60);
    expect(counts['orders-v2']).toBeLessThanOrEqual(140);
    // What the apps saw agrees with what the client saw.
    expect(apps.v2.received.length).toBe(counts['orders-v2']);
  });
});
