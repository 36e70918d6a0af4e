// Workload identity: what the control plane's CA issues (checked with openssl and Node's
// X509Certificate against the SPIFFE X.509-SVID rules), an operator's intermediate CA
// plugged in, and everything the CA and the discovery stream refuse, each with its reason.
import { X509Certificate } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCsr, createCsrWith, generateWorkloadKey, publicKeyInfo, signerFor, toPem } from '@weft/certs';
import { describe, expect, it } from 'vitest';
import {
  certify,
  createToken,
  discover,
  issueIdentity,
  openssl,
  opensslRoot,
  service,
  sidecarIdentity,
  startApp,
  startControlPlane,
  startSidecar,
  tempDir,
  waitUntil,
  weft,
  yamlDocs,
} from '../src/harness/index.ts';

const config = yamlDocs(service('orders'), service('web'));
const ordersId = 'spiffe://cluster.local/ns/default/sa/orders';

/** The leaf (and intermediates) of a running sidecar, written to files for openssl. */
async function sidecarChain(adminPort: number, dir: string): Promise<{ leaf: string; intermediates: string; certs: X509Certificate[] }> {
  const identity = await sidecarIdentity({ adminPort });
  const pems = (identity.certificate?.chainPem ?? '').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g) ?? [];
  const leaf = join(dir, 'leaf.pem');
  const intermediates = join(dir, 'intermediates.pem');
  writeFileSync(leaf, pems[0] ?? '');
  writeFileSync(intermediates, pems.slice(1).join(''));
  return { leaf, intermediates, certs: pems.map((p) => new X509Certificate(p)) };
}

describe('workload certificates', () => {
  it('are X.509-SVIDs that openssl verifies against the trust bundle', async () => {
    const cp = await startControlPlane({ config });
    const app = await startApp('orders');
    const orders = await startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: app.port });
    await orders.waitReady();
    const dir = tempDir();
    const { leaf, certs } = await sidecarChain(orders.adminPort, dir);
    expect(certs).toHaveLength(1);

    expect(openssl(['verify', '-CAfile', cp.trustBundlePath, '-purpose', 'sslserver', leaf])).toContain(': OK');
    expect(openssl(['verify', '-CAfile', cp.trustBundlePath, '-purpose', 'sslclient', leaf])).toContain(': OK');
    const text = openssl(['x509', '-in', leaf, '-noout', '-text']);
    expect(text).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/orders\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/); // ECDSA key: no keyEncipherment
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toContain('ASN1 OID: prime256v1');
    expect(text.match(/URI:/g)).toHaveLength(1);

    const cert = certs[0] as X509Certificate;
    expect(cert.subjectAltName).toBe(`URI:${ordersId}`);
    expect(cert.ca).toBe(false);
    expect(cert.serialNumber.length).toBeGreaterThanOrEqual(16); // ≥ 64 bits of hex
    const lifetimeMs = Date.parse(cert.validTo) - Date.now();
    expect(lifetimeMs).toBeGreaterThan(23.9 * 3600_000); // default: 24 h
    expect(lifetimeMs).toBeLessThanOrEqual(24 * 3600_000);

    // The root's key is readable by its owner only, and never printed.
    expect(statSync(join(cp.dataDir, 'ca', 'root.key')).mode & 0o777).toBe(0o600);
    expect(cp.child.recentOutput(200)).not.toContain('PRIVATE KEY');
    expect(orders.child.recentOutput(200)).not.toContain('PRIVATE KEY');
  });

  it('come from an operator intermediate CA when one is plugged in', async () => {
    const dir = tempDir();
    const file = (name: string) => join(dir, name);
    opensslRoot(file('root'), '/O=Example/CN=Example Root');
    openssl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      file('int.key'),
      '-out',
      file('int.csr'),
      '-subj',
      '/O=Example/CN=Example Mesh Intermediate',
    ]);
    writeFileSync(file('ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    openssl([
      'x509',
      '-req',
      '-in',
      file('int.csr'),
      '-CA',
      file('root.pem'),
      '-CAkey',
      file('root.key'),
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      file('ext.cnf'),
      '-out',
      file('int.pem'),
    ]);

    const cp = await startControlPlane({
      config,
      args: ['--ca-cert', file('int.pem'), '--ca-key', file('int.key'), '--ca-chain', file('root.pem')],
    });
    const app = await startApp('orders');
    const orders = await startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: app.port });
    await orders.waitReady();
    const { leaf, intermediates, certs } = await sidecarChain(orders.adminPort, dir);
    expect(certs.map((c) => c.subject ?? '')).toEqual(['', 'O=Example\nCN=Example Mesh Intermediate']);
    // The bundle sidecars get is the operator's root; leaf + intermediate chain to it.
    expect(openssl(['verify', '-CAfile', file('root.pem'), '-untrusted', intermediates, leaf])).toContain(': OK');
    expect(openssl(['verify', '-CAfile', cp.trustBundlePath, '-untrusted', intermediates, leaf])).toContain(': OK');
    expect(openssl(['x509', '-in', leaf, '-noout', '-text'])).toContain('Signature Algorithm: ecdsa-with-SHA256');
  });

  it('refuse to start the control plane with CA files that do not fit, naming the flag', async () => {
    const dir = tempDir();
    opensslRoot(join(dir, 'a'), '/CN=a');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'b.key')]);
    const result = await weft([
      'control-plane',
      '--data-dir',
      tempDir(),
      '--xds-port',
      '0',
      '--admin-port',
      '0',
      '--ca-cert',
      join(dir, 'a.pem'),
      '--ca-key',
      join(dir, 'b.key'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('weft: cannot set up the certificate authority');
    expect(result.stderr).toContain('--ca-key: does not belong to the CA certificate');
    expect(result.stderr).not.toContain('PRIVATE KEY');
  });
});

describe('the CA refuses', () => {
  it('bad, unknown, expired, revoked and mismatched tokens, foreign CSRs and other trust domains', async () => {
    const cp = await startControlPlane({ config });
    const key = generateWorkloadKey();
    const csr = createCsr(key, ordersId);
    const token = await createToken(cp, 'orders');

    // The good case first, so every refusal below is about the one thing that changed.
    const good = await certify(cp, { csr, token });
    expect(good.ok).toBe(true);

    expect(await certify(cp, { csr, token: 'letmein' })).toEqual({
      ok: false,
      code: 'UNAUTHENTICATED',
      details: 'token: not a Weft join token (expected weft1.<claims>.<secret>)',
    });
    const wrongSecret = `${token.slice(0, token.lastIndexOf('.') + 1)}${'A'.repeat(43)}`;
    expect(await certify(cp, { csr, token: wrongSecret })).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: expect.stringMatching(/^token [0-9a-f]{16}: unknown to this control plane or wrong secret$/),
    });
    expect(await certify(cp, { csr })).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: expect.stringContaining('a join token or service-account token is required for the first certificate'),
    });

    const shortLived = await weft(['token', 'create', '--service', 'orders', '--ttl', '1s', '-o', 'json', '--server', cp.adminUrl]);
    const expiring = JSON.parse(shortLived.stdout) as { token: string; expiresAt: string };
    await waitUntil(() => Date.now() > Date.parse(expiring.expiresAt), 5_000);
    expect(await certify(cp, { csr, token: expiring.token })).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: expect.stringMatching(/^token [0-9a-f]{16}: expired at /),
    });

    const revocable = JSON.parse(
      (await weft(['token', 'create', '--service', 'orders', '-o', 'json', '--server', cp.adminUrl])).stdout,
    ) as {
      token: string;
      id: string;
    };
    const revoked = await weft(['token', 'revoke', revocable.id, '--server', cp.adminUrl]);
    expect(revoked.stdout).toContain(`token ${revocable.id} revoked`);
    expect(await certify(cp, { csr, token: revocable.token })).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: expect.stringMatching(/^token [0-9a-f]{16}: revoked at /),
    });
    const list = await weft(['token', 'list', '--server', cp.adminUrl]);
    expect(list.stdout).toMatch(new RegExp(`${revocable.id}\\s+${ordersId}\\s+\\S+\\s+REVOKED`));
    expect(list.stdout).not.toContain(revocable.token.split('.')[2]);

    // A token for orders does not buy a certificate for web.
    const forWeb = createCsr(key, 'spiffe://cluster.local/ns/default/sa/web');
    expect(await certify(cp, { csr: forWeb, token })).toMatchObject({
      code: 'PERMISSION_DENIED',
      details: expect.stringMatching(
        /^csr: asks for spiffe:\/\/cluster\.local\/ns\/default\/sa\/web, but token [0-9a-f]{16} is bound to spiffe:\/\/cluster\.local\/ns\/default\/sa\/orders$/,
      ),
    });
    // A CSR whose signature was made with another key than the one it carries.
    const stolen = createCsrWith(publicKeyInfo(key).der, ordersId, signerFor(generateWorkloadKey()) as never);
    expect(await certify(cp, { csr: stolen, token })).toEqual({
      ok: false,
      code: 'INVALID_ARGUMENT',
      details: 'csr: signature does not verify with the public key in the request',
    });
    expect(await certify(cp, { csr: createCsr(key, 'spiffe://example.org/ns/default/sa/orders'), token })).toEqual({
      ok: false,
      code: 'PERMISSION_DENIED',
      details:
        'csr: asks for spiffe://example.org/ns/default/sa/orders in trust domain example.org; this CA issues for trust domain cluster.local',
    });
    expect(await certify(cp, { csr: Buffer.from('not a csr'), token })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: expect.stringMatching(/^csr: not DER/),
    });

    // Renewal over mTLS: the current certificate proves the identity, no token needed.
    if (!good.ok) return;
    const identity = {
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
      chainPem: good.chain.map((c) => toPem('CERTIFICATE', c)).join(''),
    };
    const renewed = await certify(cp, { csr: createCsr(generateWorkloadKey(), ordersId) }, identity);
    expect(renewed.ok).toBe(true);
    expect(await certify(cp, { csr: forWeb }, identity)).toMatchObject({
      code: 'PERMISSION_DENIED',
      details: `csr: asks for spiffe://cluster.local/ns/default/sa/web, but the client certificate is ${ordersId}`,
    });

    // None of this leaked a secret into the control plane's log.
    expect(cp.child.recentOutput(200)).not.toContain(token.split('.')[2]);
  });

  it('a sidecar whose token is for another service, before it asks anything', async () => {
    const cp = await startControlPlane({ config });
    const token = await createToken(cp, 'orders');
    const result = await weft([
      'proxy',
      '--service',
      'web',
      '--control-plane',
      cp.xdsAddress,
      '--token',
      token,
      '--trust-bundle',
      cp.trustBundlePath,
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      '--token: the token is for service orders in namespace default, but this sidecar is --service web --namespace default',
    );
  });
});

describe('discovery', () => {
  it('serves only callers with a workload certificate, as the identity in it', async () => {
    const cp = await startControlPlane({ config });
    const identity = await issueIdentity(cp, 'orders');

    expect(await discover(cp, { id: 'n1', service: 'orders' })).toMatchObject({
      ok: false,
      code: 'UNAUTHENTICATED',
      details: expect.stringContaining('discovery needs mutual TLS with a workload certificate'),
    });
    expect(await discover(cp, { id: 'n2', service: 'web' }, identity)).toEqual({
      ok: false,
      code: 'PERMISSION_DENIED',
      details: `node claims service web.default, but its certificate is ${ordersId}`,
    });
    // Service and namespace may be left out: the certificate says them.
    expect(await discover(cp, { id: 'n3', service: '' }, identity)).toEqual({ ok: true, typeUrl: expect.stringContaining('Cluster') });
  });
});
