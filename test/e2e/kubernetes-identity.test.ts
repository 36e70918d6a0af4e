// Identity on Kubernetes without a cluster: a stand-in service-account issuer (keys this test
// makes, served as a JWKS over HTTPS on port 0, behind a bearer token as the API server's is)
// and projected-style tokens it signs. Through the real control plane: what a valid token
// gets (checked with openssl and X509Certificate), what each bad one gets, and real sidecars
// started with --token-file that carry traffic over mTLS while their token files are rewritten.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCsr, generateWorkloadKey, toPem } from '@weft/certs';
import { createIssuerKey, type IssuerKey, ServiceAccountIssuer, type TokenSpec } from '@weft/control-plane/testing';
import { describe, expect, it } from 'vitest';
import {
  certify,
  K8S_ISSUER as ISSUER,
  onCleanup,
  openssl,
  send,
  sidecarIdentity,
  startApp,
  startControlPlane,
  startFakeKubernetes,
  startSidecar,
  tempDir,
  waitForMeshSync,
  waitUntil,
  weft,
} from '../src/harness/index.ts';

const ORDERS_ID = 'spiffe://cluster.local/ns/shop/sa/orders';
const WEB_ID = 'spiffe://cluster.local/ns/shop/sa/web';

const config = ['web', 'orders']
  .map((name) => `apiVersion: weft.io/v1alpha1\nkind: Service\nmetadata: {name: ${name}, namespace: shop}\nspec: {port: 80}\n`)
  .join('---\n');

/** The stand-in cluster and a control plane that trusts its issuer. */
async function cluster(args: readonly string[] = []) {
  const k8s = await startFakeKubernetes();
  const cp = await startControlPlane({ config, args: [...k8s.controlPlaneArgs, ...args] });
  return {
    ...k8s,
    cp,
    dir: tempDir(),
    token: (spec: Partial<TokenSpec> & { serviceAccount: string }, signWith?: IssuerKey) =>
      k8s.token({ namespace: 'shop', ...spec }, signWith),
  };
}

describe('Kubernetes service-account tokens', () => {
  it('buy exactly the identity they prove, and each bad one is refused with its reason', async () => {
    const { cp, issuer, key, token, dir } = await cluster();
    // The control plane fetched the keys at startup, over TLS, with its bearer token.
    await waitUntil(
      () => cp.child.recentOutput(50).includes("loaded the cluster's service-account keys"),
      10_000,
      () => 'keys loaded',
    );

    const workloadKey = generateWorkloadKey();
    const csr = createCsr(workloadKey, ORDERS_ID);
    const good = await token({ serviceAccount: 'orders', pod: 'orders-v1-5d8f-x7k2p', podUid: '7e0c7a52-aaaa-4000-8000-000000000001' });
    const logged = cp.child.waitFor((l) => l['msg'] === 'certificate issued', 10_000, 'the issuance log line');
    const issued = await certify(cp, { csr, serviceAccountToken: good });
    if (!issued.ok) throw new Error(`refused: ${issued.details}`);
    const leaf = new X509Certificate(issued.chain[0] as Buffer);
    expect(leaf.subjectAltName).toBe(`URI:${ORDERS_ID}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      createPublicKey(workloadKey).export({ type: 'spki', format: 'der' }),
    );
    const leafFile = join(dir, 'leaf.pem');
    writeFileSync(leafFile, toPem('CERTIFICATE', issued.chain[0] as Buffer));
    expect(openssl(['verify', '-CAfile', cp.trustBundlePath, '-purpose', 'sslclient', leafFile])).toContain(': OK');
    expect(openssl(['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName'])).toContain(`URI:${ORDERS_ID}`);
    expect(await logged).toMatchObject({
      spiffeId: ORDERS_ID,
      via: 'service-account-token',
      pod: 'shop/orders-v1-5d8f-x7k2p',
      podUid: '7e0c7a52-aaaa-4000-8000-000000000001',
    });

    const refused = async (serviceAccountToken: string, forCsr = csr) => certify(cp, { csr: forCsr, serviceAccountToken });
    expect(await refused(await token({ serviceAccount: 'orders', audience: 'https://kubernetes.default.svc' }))).toEqual({
      ok: false,
      code: 'UNAUTHENTICATED',
      details: 'service-account token: audience "https://kubernetes.default.svc" does not include "weft"',
    });
    expect(await refused(await token({ serviceAccount: 'orders', expiresInS: -600 }))).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: expect.stringMatching(/^service-account token: expired at \S+Z \(clock skew allowed: 30 s\)$/),
    });
    expect(await refused(await token({ serviceAccount: 'orders', issuer: 'https://oidc.other-cluster.example' }))).toEqual({
      ok: false,
      code: 'UNAUTHENTICATED',
      details: `service-account token: issuer "https://oidc.other-cluster.example" is not this cluster's ("${ISSUER}", --k8s-issuer)`,
    });
    expect(await refused(await token({ serviceAccount: 'orders' }, await createIssuerKey('sa-key-other')))).toEqual({
      ok: false,
      code: 'UNAUTHENTICATED',
      details: `service-account token: signed with key "sa-key-other", which is not among the cluster's service-account keys (${issuer.jwksUrl} (--k8s-jwks-url))`,
    });
    // Same key id, another key: a forged signature.
    expect(await refused(await token({ serviceAccount: 'orders' }, await createIssuerKey(key.kid)))).toEqual({
      ok: false,
      code: 'UNAUTHENTICATED',
      details: `service-account token: signature does not verify with the cluster's key "${key.kid}"`,
    });
    // A genuine token for web, edited to say orders.
    const [head, body, signature] = (await token({ serviceAccount: 'web' })).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    claims.sub = 'system:serviceaccount:shop:orders';
    claims['kubernetes.io'].serviceaccount.name = 'orders';
    const edited = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    expect(await refused(edited)).toEqual({
      ok: false,
      code: 'UNAUTHENTICATED',
      details: `service-account token: signature does not verify with the cluster's key "${key.kid}"`,
    });
    // A valid token for web does not buy a certificate for orders.
    expect(await refused(await token({ serviceAccount: 'web', pod: 'web-6b7c-q9z8r' }))).toEqual({
      ok: false,
      code: 'PERMISSION_DENIED',
      details: `csr: asks for ${ORDERS_ID}, but the service-account token is for ${WEB_ID} (pod shop/web-6b7c-q9z8r)`,
    });
    expect(await certify(cp, { csr, token: 'weft1.x.y', serviceAccountToken: good })).toEqual({
      ok: false,
      code: 'INVALID_ARGUMENT',
      details: 'send a join token or a service-account token, not both',
    });
    // No token text reached the log.
    expect(cp.child.recentOutput(200)).not.toContain(good.split('.')[2]);
  });

  it('are refused by a control plane not set up for them, and its --k8s flags are checked', async () => {
    const plain = await startControlPlane({ config });
    const issuer = await ServiceAccountIssuer.start({ issuer: ISSUER });
    onCleanup(() => issuer.close());
    const key = await createIssuerKey('k1');
    const sa = await issuer.sign(key, { namespace: 'shop', serviceAccount: 'orders' });
    expect(await certify(plain, { csr: createCsr(generateWorkloadKey(), ORDERS_ID), serviceAccountToken: sa })).toEqual({
      ok: false,
      code: 'UNAUTHENTICATED',
      details:
        'this control plane does not accept Kubernetes service-account tokens; start it with --k8s-issuer and --k8s-jwks-url or --k8s-jwks-file',
    });
    const result = await weft([
      'control-plane',
      '--data-dir',
      tempDir(),
      '--xds-port',
      '0',
      '--admin-port',
      '0',
      '--k8s-jwks-url',
      'ftp://x',
      '--k8s-jwks-file',
      '/nonexistent.json',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('weft: cannot set up Kubernetes service-account identity');
    expect(result.stderr).toContain('--k8s-issuer: required with --k8s-jwks-url or --k8s-jwks-file');
    expect(result.stderr).toContain('--k8s-jwks-url and --k8s-jwks-file: give one, not both');
    expect(result.stderr).toContain('--k8s-jwks-url: "ftp://x" is not an http(s) URL');
  });

  it('let real sidecars with --token-file join the mesh and carry traffic over mTLS while the kubelet rewrites their tokens', async () => {
    // Certificates live 6 s, so each sidecar renews every few seconds, each time with its token file.
    const { cp, token, dir } = await cluster(['--cert-ttl', '6s']);
    const tokenFile = join(dir, 'orders-token');
    const webTokenFile = join(dir, 'web-token');
    /** As the kubelet does: a new file renamed over the old one. */
    const writeToken = async (file: string, serviceAccount: string, podUid: string) => {
      writeFileSync(`${file}.tmp`, await token({ serviceAccount, podUid, expiresInS: 600 }));
      renameSync(`${file}.tmp`, file);
    };
    await writeToken(tokenFile, 'orders', 'orders-uid-1');
    await writeToken(webTokenFile, 'web', 'web-uid-1');

    const app = await startApp('orders');
    const common = ['--namespace', 'shop', '--trust-bundle', cp.trustBundlePath];
    const orders = await startSidecar({
      service: 'orders',
      controlPlane: cp.xdsAddress,
      appPort: app.port,
      args: [...common, '--token-file', tokenFile],
    });
    // WEFT_TOKEN_FILE works as the flag does.
    const web = await startSidecar({ service: 'web', controlPlane: cp.xdsAddress, args: common, env: { WEFT_TOKEN_FILE: webTokenFile } });
    await Promise.all([orders.waitReady(), web.waitReady()]);
    await waitForMeshSync(cp, 2);
    expect((await sidecarIdentity(orders)).certificate?.spiffeId).toBe(ORDERS_ID);

    const call = async () => {
      const reply = await send({ port: web.outboundPort, host: 'orders' });
      expect(reply.status, reply.body).toBe(200);
      expect(app.received.at(-1)?.headers['x-weft-peer-identity']).toBe(WEB_ID);
    };
    await call();

    // The kubelet rotates both tokens; the next renewals must present the new ones.
    const renewedWith = (podUid: string) =>
      cp.child.waitFor((l) => l['msg'] === 'certificate issued' && l['podUid'] === podUid, 20_000, `a certificate for pod ${podUid}`);
    const ordersRenewed = renewedWith('orders-uid-2');
    const webRenewed = renewedWith('web-uid-2');
    await writeToken(tokenFile, 'orders', 'orders-uid-2');
    await writeToken(webTokenFile, 'web', 'web-uid-2');
    const before = (await sidecarIdentity(orders)).certificate?.serial;
    await Promise.all([ordersRenewed, webRenewed]);
    await waitUntil(
      async () => (await sidecarIdentity(orders)).certificate?.serial !== before,
      10_000,
      () => 'orders to install its renewal',
    );
    for (let i = 0; i < 20; i++) await call();
    expect(orders.child.recentOutput(100)).not.toContain('certificate request failed');
    expect(web.child.recentOutput(100)).not.toContain('certificate request failed');
  });

  it('stop a sidecar whose token names another service account, before it asks anything', async () => {
    const { cp, token, dir } = await cluster();
    const file = join(dir, 'token');
    writeFileSync(file, await token({ serviceAccount: 'default' }));
    const result = await weft([
      'proxy',
      '--service',
      'web',
      '--namespace',
      'shop',
      '--control-plane',
      cp.xdsAddress,
      '--trust-bundle',
      cp.trustBundlePath,
      '--token-file',
      file,
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `--token-file ${file}: the token is for service account default in namespace shop, but this sidecar is --service web --namespace shop (a pod's Weft service is its service account)`,
    );
  });
});
