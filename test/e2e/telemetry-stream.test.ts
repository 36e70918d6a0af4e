// The telemetry stream across a control-plane restart: sidecars buffer their batches while
// it is away (bounded: the oldest are dropped and counted), resend what was never
// acknowledged, and the control plane counts each request once.
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FAST_TELEMETRY,
  inboundRequests,
  meshEdges,
  promValue,
  scrape,
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  tempDir,
  waitForMeshSync,
  waitUntil,
  yamlDocs,
} from '../src/harness/index.ts';

const BOUND = ['--telemetry-buffer-batches', '3'];

describe('telemetry stream', () => {
  it('survives a control-plane restart without losing buffered deltas beyond the bound or counting twice', async () => {
    const dataDir = tempDir('weft-cp-');
    const configPath = join(tempDir(), 'mesh.yaml');
    writeFileSync(configPath, yamlDocs(service('client'), service('orders')));
    const cp = await startControlPlane({ dataDir, configPath });
    const app = await startApp('orders');
    const [client, orders] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress, args: [...FAST_TELEMETRY, ...BOUND] }),
      startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: app.port, args: [...FAST_TELEMETRY, ...BOUND] }),
    ]);
    await waitForMeshSync(cp, 2);
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const call = async () => expect((await send({ port: client.outboundPort, host: 'orders', agent })).status).toBe(200);

    // Before: 20 requests, counted and acknowledged. Both sides' counts: the caller's
    // (the edge) may still be waiting for its sidecar's next batch when the destination's
    // are in, and a count left behind would reach the restarted control plane instead.
    for (let i = 0; i < 20; i++) await call();
    const edgeRequests = async (adminUrl: string) =>
      (await meshEdges(adminUrl)).find((e) => e.source.service === 'client')?.metrics.requests ?? 0;
    await waitUntil(
      async () => (await inboundRequests(cp.adminUrl, 'orders')) === 20 && (await edgeRequests(cp.adminUrl)) === 20,
      10_000,
      () => '20 counted by both sidecars',
    );
    const buffered = async (port: number) => promValue(await scrape(port), 'weft_telemetry_buffered_batches') ?? -1;
    await waitUntil(async () => (await buffered(client.adminPort)) === 0 && (await buffered(orders.adminPort)) === 0, 5_000);

    // Away: the control plane dies hard. Traffic goes on in rounds, each landing in its
    // own batch, until both sidecars have filled their 3-batch buffers and dropped some.
    await cp.child.kill();
    let sent = 0;
    const dropped = async (port: number) => promValue(await scrape(port), 'weft_telemetry_dropped_batches_total') ?? 0;
    const batches = async (port: number) => promValue(await scrape(port), 'weft_telemetry_batches_total') ?? 0;
    for (let round = 0; round < 60; round++) {
      const before = [await batches(client.adminPort), await batches(orders.adminPort)];
      for (let i = 0; i < 5; i++) await call();
      sent += 5;
      // Each round becomes its own batch on both sides before the next one starts.
      await waitUntil(
        async () => (await batches(client.adminPort)) > (before[0] as number) && (await batches(orders.adminPort)) > (before[1] as number),
        5_000,
      );
      if ((await dropped(client.adminPort)) >= 2 && (await dropped(orders.adminPort)) >= 2) break;
    }
    expect(await buffered(orders.adminPort)).toBeLessThanOrEqual(3);
    expect(await buffered(client.adminPort)).toBeLessThanOrEqual(3);

    // Back on the same ports: the new control plane gets the buffered batches once.
    const [, xdsPort] = cp.xdsAddress.split(':');
    const [, , adminPort] = cp.adminUrl.split(':');
    const restarted = await startControlPlane({ dataDir, configPath, xdsPort: Number(xdsPort), adminPort: Number(adminPort) });
    await waitUntil(
      async () => (await buffered(client.adminPort)) === 0 && (await buffered(orders.adminPort)) === 0,
      15_000,
      () => 'buffers sent',
    );
    // Read once the buffers are empty: the last requests of the outage may have been cut
    // into one more batch (and pushed out another) after the loop above.
    const lostAtClient = promValue(await scrape(client.adminPort), 'weft_telemetry_dropped_requests_total') ?? 0;
    const lostAtOrders = promValue(await scrape(orders.adminPort), 'weft_telemetry_dropped_requests_total') ?? 0;
    expect(lostAtClient).toBeGreaterThan(0);
    expect(lostAtOrders).toBeGreaterThan(0);
    // Exactly what was buffered and not dropped: the 20 acknowledged before are not sent
    // again, and nothing resent after the reconnect is counted twice.
    expect(await inboundRequests(restarted.adminUrl, 'orders')).toBe(sent - lostAtOrders);
    expect(await edgeRequests(restarted.adminUrl)).toBe(sent - lostAtClient);
    const status = (await (await fetch(`${restarted.adminUrl}/api/telemetry`)).json()) as {
      sidecars: { nodeId: string; dropped: { requests: number } }[];
    };
    expect(status.sidecars.find((s) => s.nodeId === orders.nodeId)?.dropped.requests).toBe(lostAtOrders);

    // And new traffic adds up on top, once.
    for (let i = 0; i < 10; i++) await call();
    await waitUntil(async () => (await inboundRequests(restarted.adminUrl, 'orders')) === sent - lostAtOrders + 10, 10_000);
    await waitUntil(async () => (await buffered(orders.adminPort)) === 0, 5_000);
    expect(await inboundRequests(restarted.adminUrl, 'orders')).toBe(sent - lostAtOrders + 10);
    agent.destroy();
  });
});
