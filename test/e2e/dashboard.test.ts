// The dashboard in a real headless Chromium (Debian's package, driven by playwright-core):
// it loads from the control plane, draws every service and edge of a running mesh with
// their golden metrics, and follows the traffic as it changes.
import { existsSync } from 'node:fs';
import { Agent } from 'node:http';
import { type Browser, chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  FAST_TELEMETRY,
  meshEdges,
  onCleanup,
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  waitForMeshSync,
  waitUntil,
  yamlDocs,
} from '../src/harness/index.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing) console.warn(`dashboard test skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);

describe.skipIf(missing)('dashboard', () => {
  it('draws every service and edge of a running mesh and updates when traffic changes', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('web'), service('orders'), service('payments')) });
    const [orders, payments] = await Promise.all([
      startApp('orders', (req, res) => {
        res.writeHead(req.url === '/fail' ? 503 : 200);
        res.end('ok');
      }),
      startApp('payments'),
    ]);
    const [web] = await Promise.all([
      startSidecar({ service: 'web', controlPlane: cp.xdsAddress, args: FAST_TELEMETRY }),
      startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: orders.port, args: FAST_TELEMETRY }),
      startSidecar({ service: 'payments', controlPlane: cp.xdsAddress, appPort: payments.port, args: FAST_TELEMETRY }),
    ]);
    await waitForMeshSync(cp, 3);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    onCleanup(() => agent.destroy());
    for (let i = 0; i < 20; i++) await send({ port: web.outboundPort, host: 'orders', agent });
    await waitUntil(async () => (await meshEdges(cp.adminUrl)).length === 1, 10_000);

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    onCleanup(() => browser.close());
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(cp.adminUrl);

    // Every service of the mesh is a node; the edge web → orders carries its counts.
    for (const name of ['web', 'orders', 'payments'])
      await page.waitForSelector(`svg#graph g.node[data-service="${name}"]`, { timeout: 10_000 });
    const edge = page.locator('svg#graph g.edge[data-source="web"][data-destination="orders"]');
    await edge.waitFor({ timeout: 10_000 });
    expect(await edge.getAttribute('data-requests')).toBe('20');
    expect(await page.locator('svg#graph g.node[data-service="orders"]').getAttribute('data-success')).toBe('1');
    expect(await page.locator('svg#graph g.node[data-service="orders"] text').nth(1).textContent()).toMatch(/^100\.00% · [\d.]+ rps$/);
    expect(await page.locator('#services tbody tr[data-service="orders"] td').nth(2).textContent()).toBe('100.00%');
    expect(await page.locator('#sidecars tbody tr').count()).toBe(3);
    expect(await page.locator('#sidecars tbody tr td.ok').count()).toBeGreaterThanOrEqual(12);
    expect(await page.locator('#charts svg.chart').count()).toBe(3);

    // Traffic changes: a new edge appears, failures show on the node, counts grow.
    for (let i = 0; i < 10; i++) await send({ port: web.outboundPort, host: 'payments', agent });
    for (let i = 0; i < 5; i++) await send({ port: web.outboundPort, host: 'orders', path: '/fail', agent });
    await page.waitForSelector('svg#graph g.edge[data-source="web"][data-destination="payments"][data-requests="10"]', { timeout: 15_000 });
    await page.waitForSelector('svg#graph g.edge[data-source="web"][data-destination="orders"][data-requests="25"]', { timeout: 15_000 });
    expect(Number(await page.locator('svg#graph g.node[data-service="orders"]').getAttribute('data-success'))).toBeCloseTo(20 / 25, 6);
    expect(await page.locator('svg#graph g.edge').count()).toBe(2);
    expect(errors).toEqual([]);
    await page.screenshot({ path: `${process.env['WEFT_SCREENSHOT_DIR'] ?? '/tmp'}/weft-dashboard.png`, fullPage: true });
  });
});
