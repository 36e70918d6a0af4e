// A sidecar receives only the services it calls: those its Service declares in
// `spec.calls`, and those it learns on first use (on-demand, the default), so its config
// does not grow with the mesh. `--discovery all` still gets everything.
import { describe, expect, it } from 'vitest';
import { appOf, send, service, startApp, startControlPlane, startSidecar, waitForMeshSync, yamlDocs } from '../src/harness/index.ts';

interface Dump {
  route: { resources: { virtualHosts?: { name: string }[] }[] };
  cluster: { resources: { name: string }[] };
}

async function dump(adminPort: number): Promise<{ vhosts: string[]; clusters: string[] }> {
  const body = (await (await fetch(`http://127.0.0.1:${adminPort}/config_dump`)).json()) as Dump;
  return {
    vhosts: body.route.resources.flatMap((r) => (r.virtualHosts ?? []).map((v) => v.name)).sort(),
    clusters: body.cluster.resources.map((c) => c.name).sort(),
  };
}

const others = Array.from({ length: 20 }, (_, i) => service(`svc-${i}`));

async function mesh(client: { calls?: string[]; args?: string[] } = {}) {
  const cp = await startControlPlane({
    config: yamlDocs(service('client', client.calls ? { calls: client.calls } : {}), service('orders'), ...others),
  });
  const orders = await startApp('orders');
  const [sidecar] = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress, ...(client.args ? { args: client.args } : {}) }),
    startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: orders.port }),
  ]);
  await waitForMeshSync(cp, 2);
  return { cp, client: sidecar };
}

describe('config scoped by use', () => {
  it('learns a service on first use and holds nothing else', async () => {
    const { client } = await mesh();
    expect(await dump(client.adminPort)).toEqual({ vhosts: [], clusters: [] });

    const reply = await send({ port: client.outboundPort, host: 'orders' });
    expect(reply.status).toBe(200);
    expect(appOf(reply)).toBe('orders');
    expect(await dump(client.adminPort)).toEqual({ vhosts: ['default/orders'], clusters: ['orders.default'] });

    // Other names of the same service need no new lookup and add nothing.
    expect(appOf(await send({ port: client.outboundPort, host: 'orders.default.svc.cluster.local:80' }))).toBe('orders');
    expect((await dump(client.adminPort)).clusters).toEqual(['orders.default']);
  });

  it('answers 404 for a host the control plane does not know, after asking once', async () => {
    const { client } = await mesh();
    for (let i = 0; i < 3; i++) {
      const reply = await send({ port: client.outboundPort, host: 'nowhere.example' });
      expect(reply.status).toBe(404);
      expect(reply.headers['x-weft-response-flags']).toBe('NR');
    }
    expect(await dump(client.adminPort)).toEqual({ vhosts: [], clusters: [] });
  });

  it('sends the calls a Service declares before any request', async () => {
    const { client } = await mesh({ calls: ['orders', 'svc-3'] });
    expect(await dump(client.adminPort)).toEqual({
      vhosts: ['default/orders', 'default/svc-3'],
      clusters: ['orders.default', 'svc-3.default'],
    });
  });

  it('still sends everything to a sidecar started with --discovery all', async () => {
    const { client } = await mesh({ args: ['--discovery', 'all'] });
    const { clusters } = await dump(client.adminPort);
    expect(clusters).toHaveLength(22);
  });
});
