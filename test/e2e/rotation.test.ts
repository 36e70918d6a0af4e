// Rotation under traffic, with zero failed requests:
//   - certificates that live 20 s are renewed several times on both sides of a sidecar
//     pair; pooled connections carry on and new handshakes use the new certificates;
//   - a root rotation (add the new root to the bundle → the CA signs with it and every
//     workload reissues → remove the old root) with the operator's CA files swapped live.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  issueIdentity,
  opensslRoot,
  type SidecarHandle,
  send,
  service,
  sidecarIdentity,
  startApp,
  startControlPlane,
  startSidecar,
  tempDir,
  waitForMeshSync,
  waitUntil,
  yamlDocs,
} from '../src/harness/index.ts';

/** Callers through a sidecar's outbound port until stopped; every failure is kept. */
function traffic(port: number, host: string, callers = 2) {
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const agent = new Agent({ keepAlive: true, maxSockets: callers });
  const deadline = Date.now() + 120_000;
  const caller = async () => {
    while (running && Date.now() < deadline) {
      try {
        const reply = await send({ port, host, agent });
        if (reply.status === 200) ok += 1;
        else failures.push(`${reply.status} ${reply.body}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: callers }, caller));
  return {
    failures,
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await done;
      agent.destroy();
    },
  };
}

/** Counts a sidecar's log lines with `msg` from now on. */
function countLines(sidecar: SidecarHandle, msg: string) {
  let count = 0;
  return {
    get count() {
      return count;
    },
    reach: (n: number, timeoutMs: number) =>
      sidecar.child.waitFor((line) => line['msg'] === msg && ++count >= n, timeoutMs, `${n} "${msg}" lines`),
  };
}

describe('certificate rotation', () => {
  it('renews 20-second certificates several times under traffic with zero failed requests', { timeout: 100_000 }, async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('a'), service('b'), service('d')), args: ['--cert-ttl', '20s'] });
    const appB = await startApp('b');
    const [a, b] = await Promise.all([
      startSidecar({ service: 'a', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port }),
    ]);
    await waitForMeshSync(cp, 2);
    const renewedA = countLines(a, 'certificate renewed');
    const renewedB = countLines(b, 'certificate renewed');
    const firstSerial = (await sidecarIdentity(b)).certificate?.serial;

    const pooled = traffic(a.outboundPort, 'b');
    // New handshakes all along, against b's rotating certificate, from a client whose own
    // certificate is reissued every few seconds (it lives 20 s too).
    const handshakeFailures: string[] = [];
    let handshakes = 0;
    let running = true;
    const direct = (async () => {
      let client = await issueIdentity(cp, 'tester');
      let issuedAt = Date.now();
      while (running) {
        if (Date.now() - issuedAt > 5_000) {
          client = await issueIdentity(cp, 'tester');
          issuedAt = Date.now();
        }
        const ca = readFileSync(cp.trustBundlePath, 'utf8');
        const status = await new Promise<string>((resolve) => {
          const req = httpsRequest(
            {
              host: '127.0.0.1',
              port: b.inboundPort,
              path: '/',
              headers: { host: 'b' },
              key: client.keyPem,
              cert: client.chainPem,
              ca,
              agent: false,
              checkServerIdentity: () => undefined,
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(String(res.statusCode)));
            },
          );
          req.on('error', (e) => resolve(e.message));
          req.end();
        });
        if (status === '200') handshakes += 1;
        else handshakeFailures.push(status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    await Promise.all([renewedA.reach(3, 60_000), renewedB.reach(3, 60_000)]);
    running = false;
    await direct;
    await pooled.stop();
    expect(pooled.failures).toEqual([]);
    expect(handshakeFailures).toEqual([]);
    expect(pooled.ok).toBeGreaterThan(100);
    expect(handshakes).toBeGreaterThan(20);
    expect((await sidecarIdentity(b)).certificate?.serial).not.toBe(firstSerial);

    // a's rotated certificate opens a new connection to a sidecar it has never called.
    const appD = await startApp('d');
    await startSidecar({ service: 'd', controlPlane: cp.xdsAddress, appPort: appD.port });
    await waitForMeshSync(cp, 3);
    expect((await send({ port: a.outboundPort, host: 'd' })).status).toBe(200);
    expect(appD.received.at(-1)?.headers['x-weft-peer-identity']).toBe('spiffe://cluster.local/ns/default/sa/a');
  });
});

describe('a CA outage', () => {
  it('keeps sidecars serving while renewal fails, and renews once the control plane is back', { timeout: 100_000 }, async () => {
    const dataDir = tempDir('weft-cp-');
    const config = yamlDocs(service('a'), service('b'));
    const cp = await startControlPlane({ config, dataDir, args: ['--cert-ttl', '30s'] });
    const appB = await startApp('b');
    const [a, b] = await Promise.all([
      startSidecar({ service: 'a', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port }),
    ]);
    await waitForMeshSync(cp, 2);
    // a has been calling b (config is learned on first use), so it holds b's routes.
    expect((await send({ port: a.outboundPort, host: 'b' })).status).toBe(200);
    const load = traffic(a.outboundPort, 'b');
    const failedRenewal = b.child.waitFor((l) => l['msg'] === 'certificate request failed; retrying', 40_000, 'a failed renewal');
    const before = (await sidecarIdentity(b)).certificate;
    await cp.child.kill();

    // b's renewal (due 12–18 s into its 30 s lifetime) fails and is retried; b keeps its
    // certificate and keeps serving meanwhile.
    const failure = await failedRenewal;
    expect(failure['expiresInMs']).toBeGreaterThan(0);
    expect((await sidecarIdentity(b)).certificate?.serial).toBe(before?.serial);
    const renewed = b.child.waitFor((l) => l['msg'] === 'certificate renewed', 30_000, 'the renewal');
    const [, xdsPort] = cp.xdsAddress.split(':');
    const [, , adminPort] = cp.adminUrl.split(':');
    await startControlPlane({ config, dataDir, xdsPort: Number(xdsPort), adminPort: Number(adminPort), args: ['--cert-ttl', '30s'] });
    await renewed;
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(50);
    const after = (await sidecarIdentity(b)).certificate;
    expect(after?.serial).not.toBe(before?.serial);
    expect(Date.parse(after?.notAfter ?? '')).toBeGreaterThan(Date.parse(before?.notAfter ?? ''));
  });
});

describe('root rotation', () => {
  it('adds a root, reissues every workload under it, removes the old root, with zero failed requests', { timeout: 100_000 }, async () => {
    const dir = tempDir();
    const file = (name: string) => join(dir, name);
    opensslRoot(file('old-root'), '/O=Example/CN=old-root');
    opensslRoot(file('new-root'), '/O=Example/CN=new-root');
    // Operators replace files atomically (write, then rename), as a secret mount does.
    const replace = (target: string, text: string) => {
      writeFileSync(`${file(target)}.tmp`, text, { mode: 0o600 });
      renameSync(`${file(target)}.tmp`, file(target));
    };
    replace('ca.key', readFileSync(file('old-root.key'), 'utf8'));
    replace('ca.pem', readFileSync(file('old-root.pem'), 'utf8'));
    replace('bundle.pem', readFileSync(file('old-root.pem'), 'utf8'));

    const cp = await startControlPlane({
      config: yamlDocs(service('a'), service('b'), service('c'), service('d')),
      args: ['--ca-cert', file('ca.pem'), '--ca-key', file('ca.key'), '--trust-bundle', file('bundle.pem')],
    });
    const appB = await startApp('b');
    const sidecars = await Promise.all([
      startSidecar({ service: 'a', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port }),
    ]);
    const [a] = sidecars;
    await waitForMeshSync(cp, 2);
    const everySidecar = (check: (identity: Awaited<ReturnType<typeof sidecarIdentity>>) => boolean, what: string) =>
      waitUntil(
        async () => (await Promise.all(sidecars.map(sidecarIdentity))).every(check),
        20_000,
        () => what,
      );

    const load = traffic(a.outboundPort, 'b');
    await waitUntil(
      () => load.ok > 50,
      10_000,
      () => 'traffic to flow',
    );

    // 1. Trust both roots.
    replace('bundle.pem', readFileSync(file('old-root.pem'), 'utf8') + readFileSync(file('new-root.pem'), 'utf8'));
    await everySidecar((i) => i.trustBundle.length === 2, 'every sidecar to trust both roots');

    // 2. Sign with the new root: every workload reissues within seconds.
    replace('ca.key', readFileSync(file('new-root.key'), 'utf8'));
    replace('ca.pem', readFileSync(file('new-root.pem'), 'utf8'));
    await everySidecar((i) => i.certificate?.issuer === 'O=Example, CN=new-root', 'every sidecar to hold a certificate from the new root');

    // 3. Stop trusting the old root.
    replace('bundle.pem', readFileSync(file('new-root.pem'), 'utf8'));
    await everySidecar(
      (i) => i.trustBundle.length === 1 && i.trustBundle[0]?.subject === 'O=Example, CN=new-root',
      'the old root to be gone',
    );
    await waitUntil(
      () => load.ok > 200,
      10_000,
      () => 'more traffic after the rotation',
    );
    await load.stop();
    expect(load.failures).toEqual([]);

    // New handshakes under the new root only: a new client to b, and a to a new server.
    expect(readFileSync(cp.trustBundlePath, 'utf8')).toBe(`${readFileSync(file('new-root.pem'), 'utf8').trim()}\n`);
    const appD = await startApp('d');
    const [c] = await Promise.all([
      startSidecar({ service: 'c', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'd', controlPlane: cp.xdsAddress, appPort: appD.port }),
    ]);
    await waitForMeshSync(cp, 4);
    expect((await send({ port: c.outboundPort, host: 'b' })).status).toBe(200);
    expect((await send({ port: a.outboundPort, host: 'd' })).status).toBe(200);
  });
});
