// Consistent hashing and circuit breaking through real sidecars.
import { describe, expect, it } from 'vitest';
import {
  appOf,
  destinationPolicy,
  route,
  type ScriptedApp,
  type SidecarHandle,
  send,
  service,
  startControlPlane,
  startScriptedApp,
  startSidecar,
  waitForMeshSync,
  waitUntil,
  yamlDocs,
} from '../src/harness/index.ts';

describe('consistent hashing', () => {
  it('keeps a header value on one endpoint until that endpoint goes away, and sticks a cookie it hands out', async () => {
    const cp = await startControlPlane({
      config: yamlDocs(
        service('client'),
        service('api'),
        route('api', {
          hosts: ['api'],
          rules: [
            { match: { path: { prefix: '/cart' } }, backends: [{ service: 'api', subset: { tier: 'web' } }] },
            { backends: [{ service: 'api' }] },
          ],
        }),
        destinationPolicy('api', { service: 'api', loadBalancer: { policy: 'consistent-hash', consistentHash: { header: 'x-user' } } }),
        destinationPolicy('api-web', {
          service: 'api',
          subset: { tier: 'web' },
          loadBalancer: { consistentHash: { cookie: { name: 'session', ttl: '1h' } } },
        }),
      ),
    });
    const apps = await Promise.all(['api-a', 'api-b', 'api-c'].map((name) => startScriptedApp(name)));
    const [client, ...endpoints] = (await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
      ...apps.map((app) => startSidecar({ service: 'api', labels: { tier: 'web' }, controlPlane: cp.xdsAddress, appPort: app.port })),
    ])) as SidecarHandle[];
    await waitForMeshSync(cp, 4);
    const port = (client as SidecarHandle).outboundPort;
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const endpointOf = async (user: string) => {
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) seen.add(appOf(await send({ port, host: 'api', path: '/item', headers: { 'x-user': user } })));
      expect(seen.size).toBe(1);
      return [...seen][0] as string;
    };

    const before = new Map<string, string>();
    for (const user of users) before.set(user, await endpointOf(user));
    // The keys spread over the endpoints.
    expect(new Set(before.values()).size).toBe(3);

    // A cookie the sidecar hands out keeps a client on one endpoint.
    const first = await send({ port, host: 'api', path: '/cart' });
    const setCookie = String(first.headers['set-cookie'] ?? '');
    expect(setCookie).toMatch(/^session=[^;]+; Path=\/; Max-Age=3600; HttpOnly$/);
    const cookie = setCookie.split(';')[0] as string;
    const sticky = new Set<string>([appOf(first)]);
    for (let i = 0; i < 5; i++) sticky.add(appOf(await send({ port, host: 'api', path: '/cart', headers: { cookie } })));
    expect(sticky.size).toBe(1);

    // The endpoint of user-0 goes away: its users move (each to one endpoint), nobody else does.
    const gone = before.get('user-0') as string;
    const victim = endpoints[apps.findIndex((a: ScriptedApp) => a.name === gone)] as SidecarHandle;
    victim.child.process.kill('SIGKILL');
    await waitForMeshSync(cp, 3);
    for (const user of users) {
      const now = await endpointOf(user);
      if (before.get(user) === gone) expect(now).not.toBe(gone);
      else expect(now).toBe(before.get(user));
    }
  });
});

describe('circuit breaking', () => {
  it('answers 503 UO at once when the destination is at its request limit, and lets requests through again after', async () => {
    const cp = await startControlPlane({
      config: yamlDocs(
        service('client'),
        service('busy'),
        destinationPolicy('busy', { service: 'busy', circuitBreakers: { maxRequests: 1 } }),
      ),
    });
    const app = await startScriptedApp('busy');
    const [client] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'busy', controlPlane: cp.xdsAddress, appPort: app.port }),
    ]);
    await waitForMeshSync(cp, 2);
    const port = client.outboundPort;

    const hanging = send({ port, host: 'busy', path: '/hang?hang', timeoutMs: 1500 }).catch((error: Error) => error);
    await waitUntil(
      () => app.count('/hang') === 1,
      5000,
      () => 'the first request to reach the app',
    );
    const started = performance.now();
    const refused = await send({ port, host: 'busy', path: '/second' });
    const elapsed = performance.now() - started;
    console.log(`circuit breaker overflow answered in ${elapsed.toFixed(1)} ms`);
    expect(refused.status).toBe(503);
    expect(refused.headers['x-weft-response-flags']).toBe('UO');
    expect(refused.body).toContain('max-requests');
    expect(elapsed).toBeLessThan(500);
    expect(app.count('/second')).toBe(0);

    // The hanging request's client gives up; that cancels it upstream, frees the slot, and
    // traffic flows again.
    expect(await hanging).toBeInstanceOf(Error);
    await waitUntil(
      () => app.cancelled.length === 1,
      5000,
      () => 'the abandoned request to be cancelled upstream',
    );
    await waitUntil(
      async () => (await send({ port, host: 'busy', path: '/after' })).status === 200,
      5000,
      () => 'the breaker to admit requests again',
    );
  });
});
