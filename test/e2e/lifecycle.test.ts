// The sidecar's lifecycle with real processes: on SIGTERM it leaves the mesh and takes no new
// inbound connections, keeps outbound serving while its app drains, and exits as soon as the
// app has gone or when the drain period ends; POST /shutdown on its admin port does the same
// for a Job whose work is done. It starts itself once more with the settings Node takes only
// at startup (cli/bin/weft.js), in the same process.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  appOf,
  onCleanup,
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  waitForMeshSync,
  yamlDocs,
} from '../src/harness/index.ts';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function twoSidecars(drainMs: number) {
  const cp = await startControlPlane({ config: yamlDocs(service('a'), service('b')) });
  const [appA, appB] = await Promise.all([startApp('a'), startApp('b')]);
  const [a, b] = await Promise.all([
    startSidecar({ service: 'a', controlPlane: cp.xdsAddress, appPort: appA.port, args: ['--drain-ms', String(drainMs)] }),
    startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port }),
  ]);
  await waitForMeshSync(cp, 2);
  return { cp, a, b, appA, appB };
}

describe('sidecar lifecycle', () => {
  it('on SIGTERM stops taking inbound, keeps outbound serving while the app drains, and exits once the app has gone', async () => {
    const { a, appA } = await twoSidecars(30_000);
    // The app's own connection pool to its sidecar, as a real client keeps one.
    const pool = new Agent({ keepAlive: true, maxSockets: 1 });
    onCleanup(() => pool.destroy());
    expect(appOf(await send({ port: a.outboundPort, host: 'b', agent: pool }))).toBe('b');

    const draining = a.child.waitFor((l) => l['msg'] === 'sidecar draining', 10_000, 'draining');
    a.child.process.kill('SIGTERM');
    await draining;

    const ready = await fetch(`http://127.0.0.1:${a.adminPort}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, draining: true });
    expect(await refused(a.inboundPort ?? 0)).toBe(true);
    // Outbound still serves, on the app's pooled connection and on new ones.
    expect(appOf(await send({ port: a.outboundPort, host: 'b', agent: pool }))).toBe('b');
    expect(appOf(await send({ port: a.outboundPort, host: 'b' }))).toBe('b');
    expect(a.child.running).toBe(true);

    // The app exits: its port closes and its pooled connection with it.
    const appGone = a.child.waitFor((l) => l['msg'] === 'app has exited', 10_000, 'the sidecar to see the app exit');
    const started = Date.now();
    appA.server.closeAllConnections();
    appA.server.close();
    pool.destroy();
    await appGone;
    const exit = await a.child.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // Long before the 30 s drain period: it followed the app, not the clock.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('exits when the drain period ends if the app is still running', async () => {
    const { a } = await twoSidecars(1500);
    const over = a.child.waitFor((l) => l['msg'] === 'drain period over', 10_000, 'the drain period to end');
    const started = Date.now();
    a.child.process.kill('SIGTERM');
    await over;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(await a.child.exited).toEqual({ code: 0, signal: null });
  });

  it('stops on POST /shutdown from loopback, as the last step of a Job', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('report')) });
    // A Job's app serves nothing: a sidecar without an app port.
    const sidecar = await startSidecar({ service: 'report', controlPlane: cp.xdsAddress, args: ['--drain-ms', '30000'] });
    await sidecar.waitReady();
    const admin = `http://127.0.0.1:${sidecar.adminPort}`;
    expect((await fetch(`${admin}/shutdown`)).status).toBe(405);
    const reply = await fetch(`${admin}/shutdown`, { method: 'POST' });
    expect(reply.status).toBe(202);
    expect(await reply.json()).toEqual({ shutdown: 'draining' });
    expect(await sidecar.child.exited).toEqual({ code: 0, signal: null });
  });

  it('starts itself once more with its heap settings and WEFT_SIDECAR_NODE_FLAGS, keeping its PID', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('a')) });
    const sidecar = await startSidecar({
      service: 'a',
      controlPlane: cp.xdsAddress,
      env: { WEFT_SIDECAR_NODE_FLAGS: '--stack-size=2000  --max-old-space-size=256' },
    });
    // The PID the test spawned is the sidecar serving now (process.execve, not a child).
    const argv = readFileSync(`/proc/${sidecar.child.pid}/cmdline`, 'utf8').split('\0');
    const count = (flag: string) => argv.filter((a) => a === flag).length;
    expect(count('--max-semi-space-size=8')).toBe(1);
    expect(count('--expose-gc')).toBe(1);
    expect(count('--stack-size=2000')).toBe(1);
    expect(count('--max-old-space-size=256')).toBe(1);
    expect(argv.indexOf('--stack-size=2000')).toBeLessThan(argv.indexOf('proxy'));
    const environ = readFileSync(`/proc/${sidecar.child.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain('MALLOC_ARENA_MAX=2');
  });
});
