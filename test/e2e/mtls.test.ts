// Sidecar to sidecar is mutual TLS 1.3: the inbound port of a strict service refuses
// plaintext, clients with a certificate from another CA and TLS below 1.3, and tells the
// app who called (x-weft-peer-identity, which callers cannot forge). Permissive services
// accept plaintext on the same port; the mode changes live.
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { CertificateAuthority, createRootCa, generateWorkloadKey, publicKeyInfo, toPem } from '@weft/certs';
import { describe, expect, it } from 'vitest';
import {
  type ControlPlaneHandle,
  issueIdentity,
  type Reply,
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

const aId = 'spiffe://cluster.local/ns/default/sa/a';

async function pair(bMode = 'strict') {
  const cp = await startControlPlane({ config: yamlDocs(service('a'), mtlsService('b', bMode)) });
  const appB = await startApp('b');
  const [a, b] = await Promise.all([
    startSidecar({ service: 'a', controlPlane: cp.xdsAddress }),
    startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port }),
  ]);
  await waitForMeshSync(cp, 2);
  return { cp, a, b, appB, inbound: b.inboundPort as number };
}

function mtlsService(name: string, mode: string): string {
  return service(name).replace('protocol: http\n', `protocol: http\n  mtls: ${mode}\n`);
}

/** One HTTPS request straight to an inbound port, with the given client identity. */
function mtlsSend(
  port: number,
  client: { keyPem: string; chainPem: string },
  ca: string,
  extra: { maxVersion?: 'TLSv1.2' } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/direct',
        headers: { host: 'b' },
        key: client.keyPem,
        cert: client.chainPem,
        ca,
        agent: false,
        checkServerIdentity: () => undefined, // the SPIFFE ID check is the sidecars' job
        ...extra,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function bundleOf(cp: ControlPlaneHandle): string {
  return readFileSync(cp.trustBundlePath, 'utf8');
}

describe('strict mTLS (the default)', () => {
  it('carries sidecar traffic over mTLS and tells the app the caller, replacing a forged identity', async () => {
    const { a, appB } = await pair();
    const reply = await send({
      port: a.outboundPort,
      host: 'b',
      headers: { 'x-weft-peer-identity': 'spiffe://cluster.local/ns/default/sa/admin' },
    });
    expect(reply.status).toBe(200);
    expect(appB.received.at(-1)?.headers['x-weft-peer-identity']).toBe(aId);
  });

  it('refuses plaintext, foreign-CA clients and TLS 1.2 on the inbound port; accepts mesh certificates', async () => {
    const { cp, appB, inbound } = await pair();
    const before = appB.received.length;

    const plaintext = await send({ port: inbound, host: 'b' });
    expect(plaintext.status).toBe(403);
    expect(plaintext.body).toBe('weft: this port accepts mutual TLS only (mtls mode is strict)\n');

    // Another CA's certificate, from a client that itself trusts the mesh (so only the
    // server's check can be what refuses it).
    const root = createRootCa({ trustDomain: 'cluster.local', validityMs: 3_600_000 });
    const loaded = CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem, trustDomain: 'cluster.local' });
    if (!loaded.ok) throw new Error(loaded.errors.join());
    const key = generateWorkloadKey();
    const foreign = {
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
      chainPem: toPem('CERTIFICATE', loaded.ca.issue({ publicKey: publicKeyInfo(key), spiffeId: aId, ttlMs: 3_600_000 }).der),
    };
    await expect(mtlsSend(inbound, foreign, bundleOf(cp))).rejects.toThrow();

    const tester = await issueIdentity(cp, 'tester');
    await expect(mtlsSend(inbound, tester, bundleOf(cp), { maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version|alert/i);
    expect(appB.received.length).toBe(before); // nothing above reached the app

    const ok = await mtlsSend(inbound, tester, bundleOf(cp));
    expect(ok.status).toBe(200);
    expect(appB.received.at(-1)?.headers['x-weft-peer-identity']).toBe(tester.spiffeId);
  });
});

describe('permissive and disabled mTLS', () => {
  it('accepts plaintext and mTLS on one port in permissive mode, and follows a switch to strict live', async () => {
    const { cp, a, appB, inbound } = await pair('permissive');
    const plaintext = await send({ port: inbound, host: 'b', headers: { 'x-weft-peer-identity': aId } });
    expect(plaintext.status).toBe(200);
    expect(appB.received.at(-1)?.headers['x-weft-peer-identity']).toBeUndefined(); // no identity, and none forged
    expect((await send({ port: a.outboundPort, host: 'b' })).status).toBe(200);
    expect(appB.received.at(-1)?.headers['x-weft-peer-identity']).toBe(aId);

    const file = join(tempDir(), 'strict.yaml');
    writeFileSync(file, mtlsService('b', 'strict'));
    const applied = await weft(['apply', '-f', file, '--wait', '--server', cp.adminUrl]);
    expect(applied.code).toBe(0);
    expect((await send({ port: inbound, host: 'b' })).status).toBe(403);
    expect((await send({ port: a.outboundPort, host: 'b' })).status).toBe(200);
  });

  it('sends plaintext to a service with mtls: disabled', async () => {
    const { a, appB } = await pair('disabled');
    await waitUntil(async () => (await send({ port: a.outboundPort, host: 'b' })).status === 200, 5_000);
    expect(appB.received.at(-1)?.headers['x-weft-peer-identity']).toBeUndefined();
  });
});
