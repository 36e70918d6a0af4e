// Passive health through real sidecars: endpoints that keep failing are ejected and come
// back, never more than the configured share at once, and losing an endpoint under load
// costs the callers nothing.
import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
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

async function threeEndpoints(extra: string[]): Promise<{ client: SidecarHandle; apps: ScriptedApp[]; endpoints: SidecarHandle[] }> {
  const cp = await startControlPlane({ config: yamlDocs(service('client'), service('api'), ...extra) });
  const apps = await Promise.all(['api-a', 'api-b', 'api-c'].map((name) => startScriptedApp(name)));
  const [client, ...endpoints] = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
    ...apps.map((app) => startSidecar({ service: 'api', controlPlane: cp.xdsAddress, appPort: app.port })),
  ]);
  await waitForMeshSync(cp, 4);
  return { client: client as SidecarHandle, apps, endpoints };
}

interface HostView {
  readonly nodeId: string;
  readonly ejected: boolean;
}

async function hostsOf(sidecar: SidecarHandle, cluster: string): Promise<HostView[]> {
  const body = (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/clusters`)).json()) as {
    clusters: { name: string; hosts: HostView[] }[];
  };
  return body.clusters.find((c) => c.name === cluster)?.hosts ?? [];
}

describe('outlier detection', () => {
  it('ejects an endpoint after 5 consecutive 5xx, moves traffic within one interval, returns it after the ejection time, and respects max ejection percent', async () => {
    const intervalMs = 500;
    const ejectionMs = 4000;
    const { client, apps, endpoints } = await threeEndpoints([
      route('api', { hosts: ['api'], rules: [{ retries: { attempts: 0 }, backends: [{ service: 'api' }] }] }),
      destinationPolicy('api', {
        service: 'api',
        outlierDetection: { consecutive5xx: 5, interval: `${intervalMs}ms`, baseEjectionTime: `${ejectionMs}ms`, maxEjectionPercent: 34 },
      }),
    ]);
    const [a, b] = apps as [ScriptedApp, ScriptedApp, ScriptedApp];
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () => send({ port: client.outboundPort, host: 'api', path: '/work', agent });

    // A turns bad: once it has failed 5 times in a row, it is ejected.
    a.setMode({ kind: 'status', status: 500 });
    const aBefore = a.count();
    for (let i = 0; i < 200 && a.count() - aBefore < 5; i++) await get();
    expect(a.count() - aBefore).toBe(5);
    const ejectedAt = Date.now();
    expect((await hostsOf(client, 'api.default')).filter((h) => h.ejected).map((h) => h.nodeId)).toEqual([endpoints[0]?.nodeId]);

    // Traffic moves away within one interval, and stays away while the ejection lasts
    // (requests are sent until shortly before it ends, however slow this machine is).
    let after = 0;
    while (after < 60 && Date.now() < ejectedAt + ejectionMs - 500) {
      expect((await get()).status).toBe(200);
      if (Date.now() > ejectedAt + intervalMs) after += 1;
    }
    expect(after).toBeGreaterThanOrEqual(5);
    expect(a.arrivals.filter((x) => x.at > ejectedAt + intervalMs)).toEqual([]);

    // A recovers; it gets traffic again after the ejection time (checked every interval).
    a.setMode({ kind: 'normal' });
    const aAtRecovery = a.count();
    await waitUntil(
      async () => {
        await get();
        return a.count() > aAtRecovery;
      },
      ejectionMs + 3 * intervalMs + 2000,
      () => 'the ejected endpoint to receive traffic again',
    );
    const returnedAfter = (a.arrivals[aAtRecovery]?.at ?? 0) - ejectedAt;
    console.log(`ejected endpoint returned after ${returnedAfter} ms (ejection time ${ejectionMs} ms, interval ${intervalMs} ms)`);
    expect(returnedAfter).toBeGreaterThanOrEqual(ejectionMs - 100);
    expect(returnedAfter).toBeLessThanOrEqual(ejectionMs + intervalMs + 1000);

    // Two of three turn bad, but 34 % of 3 endpoints allows one ejection: the other bad
    // endpoint keeps its share of traffic.
    a.setMode({ kind: 'status', status: 500 });
    b.setMode({ kind: 'status', status: 500 });
    const ejectedNow = async () => (await hostsOf(client, 'api.default')).filter((h) => h.ejected).length;
    for (let i = 0; i < 200 && (await ejectedNow()) === 0; i++) await get();
    expect(await ejectedNow()).toBe(1);
    const stillServing = a.count() + b.count();
    for (let i = 0; i < 30; i++) {
      await get();
      expect(await ejectedNow()).toBeLessThanOrEqual(1);
    }
    expect(a.count() + b.count()).toBeGreaterThan(stillServing);
    agent.destroy();
  });

  it('loses no request when one of three endpoints is killed under steady GET traffic', async () => {
    const { client, apps, endpoints } = await threeEndpoints([]);
    const agent = new Agent({ keepAlive: true, maxSockets: 3 });
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const reply = await send({ port: client.outboundPort, host: 'api', path: '/steady', agent });
          if (reply.status === 200) ok += 1;
          else failures.push(`${reply.status} ${String(reply.headers['x-weft-response-flags'])}: ${reply.body.trim()}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const workers = Array.from({ length: 3 }, worker);
    await waitUntil(
      () => ok >= 100,
      10_000,
      () => 'traffic to flow',
    );
    const victim = apps[2] as ScriptedApp;
    const beforeKill = victim.count();
    expect(beforeKill).toBeGreaterThan(0);
    (endpoints[2] as SidecarHandle).child.process.kill('SIGKILL');
    const okAtKill = ok;
    await waitUntil(
      () => ok >= okAtKill + 300,
      20_000,
      () => 'traffic to continue after the kill',
    );
    stop = true;
    await Promise.all(workers);
    agent.destroy();
    console.log(`killed one of three endpoints: ${ok} requests answered, ${failures.length} failed`);
    expect(failures).toEqual([]);
    // The survivors took the traffic.
    expect((apps[0] as ScriptedApp).count() + (apps[1] as ScriptedApp).count()).toBeGreaterThan(okAtKill);
  });
});
