import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createIssuerKey, type IssuerKey, ServiceAccountIssuer } from '../testing/service-account-issuer.ts';
import { FileJwks, type KeySet, RemoteJwks } from './jwks-source.ts';
import { ServiceAccountTokenVerifier } from './service-account-token.ts';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const log = pino({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function issuer(keys: IssuerKey[]): Promise<ServiceAccountIssuer> {
  const started = await ServiceAccountIssuer.start({ issuer: ISSUER });
  started.serve(keys);
  cleanups.push(() => started.close());
  return started;
}

/** Our clock, moved by the test: refetch intervals without waiting. */
function clock(): { now: () => number; advance(ms: number): void } {
  let t = Date.now();
  return { now: () => t, advance: (ms) => (t += ms) };
}

function remote(jwks: ServiceAccountIssuer, now: () => number, options: { minRefreshIntervalMs?: number; maxAgeMs?: number } = {}) {
  const keys = new RemoteJwks({ url: new URL(jwks.jwksUrl), log, now, ...options });
  cleanups.push(() => keys.close());
  return keys;
}

function verifier(keys: KeySet, now: () => number = Date.now): ServiceAccountTokenVerifier {
  return new ServiceAccountTokenVerifier({ issuer: ISSUER, audience: 'weft', keys, now });
}

const orders = { namespace: 'shop', serviceAccount: 'orders', pod: 'orders-v1-6c9f-abcde', podUid: 'a1b2c3d4-0000-4000-8000-00000000000a' };

describe('service-account tokens', () => {
  it('prove the namespace, service account and pod of a valid token', async () => {
    const k1 = await createIssuerKey('k1');
    const jwks = await issuer([k1]);
    const result = await verifier(remote(jwks, Date.now)).verify(await jwks.sign(k1, orders));
    expect(result).toEqual({
      ok: true,
      claims: {
        namespace: 'shop',
        serviceAccount: 'orders',
        serviceAccountUid: '0f6f5d5e-0000-4000-8000-000000000002',
        pod: { name: 'orders-v1-6c9f-abcde', uid: 'a1b2c3d4-0000-4000-8000-00000000000a' },
        expiresAt: expect.any(Date),
        keyId: 'k1',
      },
    });
    // ECDSA keys too (clusters configured with an EC signing key).
    const ec = await createIssuerKey('ec1', 'ES256');
    jwks.serve([k1, ec]);
    const ecResult = await verifier(remote(jwks, Date.now)).verify(await jwks.sign(ec, orders));
    expect(ecResult.ok).toBe(true);
  });

  it('are refused, each with its own reason', async () => {
    const k1 = await createIssuerKey('k1');
    const jwks = await issuer([k1]);
    const check = verifier(remote(jwks, Date.now));
    const refusal = async (token: string | Promise<string>) => {
      const result = await check.verify(await token);
      return result.ok ? 'accepted' : result.error;
    };

    expect(await refusal(jwks.sign(k1, { ...orders, audience: ['https://kubernetes.default.svc'] }))).toBe(
      'service-account token: audience ["https://kubernetes.default.svc"] does not include "weft"',
    );
    expect(await refusal(jwks.sign(k1, { ...orders, expiresInS: -120 }))).toMatch(
      /^service-account token: expired at \d{4}-\d\d-\d\dT[\d:.]+Z \(clock skew allowed: 30 s\)$/,
    );
    // Within the clock skew: still good.
    expect(await refusal(jwks.sign(k1, { ...orders, expiresInS: -10 }))).toBe('accepted');
    expect(await refusal(jwks.sign(k1, { ...orders, notBeforeInS: 300 }))).toMatch(/^service-account token: not valid before /);
    expect(await refusal(jwks.sign(k1, { ...orders, issuer: 'https://evil.example' }))).toBe(
      `service-account token: issuer "https://evil.example" is not this cluster's ("${ISSUER}", --k8s-issuer)`,
    );
    const stranger = await createIssuerKey('k9');
    expect(await refusal(jwks.sign(stranger, orders))).toBe(
      `service-account token: signed with key "k9", which is not among the cluster's service-account keys (${jwks.jwksUrl} (--k8s-jwks-url))`,
    );
    // Another key claiming to be k1.
    const impostor = { ...(await createIssuerKey('k1')) };
    expect(await refusal(jwks.sign(impostor, orders))).toBe(
      'service-account token: signature does not verify with the cluster\'s key "k1"',
    );
    // A real token with its claims edited: another service account, same signature.
    const [head, body, signature] = (await jwks.sign(k1, orders)).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    claims['kubernetes.io'].serviceaccount.name = 'payments';
    claims.sub = 'system:serviceaccount:shop:payments';
    const tampered = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    expect(await refusal(tampered)).toBe('service-account token: signature does not verify with the cluster\'s key "k1"');
    // Signed by the cluster, but the claims do not hang together.
    expect(await refusal(jwks.sign(k1, { ...orders, claims: { sub: 'system:serviceaccount:shop:payments' } }))).toBe(
      'service-account token: subject "system:serviceaccount:shop:payments" does not match its kubernetes.io claims (system:serviceaccount:shop:orders)',
    );
    const legacy = { namespace: 'shop', serviceaccount: { name: 'orders', uid: 'u' } };
    expect(await refusal(jwks.sign(k1, { ...orders, claims: { 'kubernetes.io': legacy } }))).toBe(
      'service-account token: claim kubernetes.io.pod: missing; only tokens bound to a pod (projected tokens) are accepted',
    );
    expect(await refusal(jwks.sign(k1, { ...orders, claims: { exp: undefined } }))).toBe(
      'service-account token: has no expiry ("exp"); only projected tokens are accepted',
    );
    expect(await refusal(jwks.sign(k1, { ...orders, serviceAccount: 'orders.v1' }))).toBe(
      'service-account token: service account "orders.v1" is not a DNS label; a Weft service (and so its service account) must be one',
    );
    // alg "none" and HMAC tokens never verify, whatever they say.
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${body}.`;
    expect(await refusal(none)).toMatch(/^service-account token: (algorithm "none" is not allowed|.*Unsupported "alg")/);
    const hmacHeader = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'k1' })).toString('base64url');
    expect(await refusal(`${hmacHeader}.${body}.${signature}`)).toBe(
      'service-account token: algorithm "HS256" is not allowed; Kubernetes signs with RSA or ECDSA keys',
    );
    expect(await refusal('weft1.abc.def')).toMatch(/^service-account token: not a JWT \(/);
  });

  it('pick up a new key when the issuer rotates, refetching at a bounded rate', async () => {
    const k1 = await createIssuerKey('k1');
    const k2 = await createIssuerKey('k2');
    const jwks = await issuer([k1]);
    const time = clock();
    const check = verifier(remote(jwks, time.now, { minRefreshIntervalMs: 60_000, maxAgeMs: 300_000 }), time.now);

    expect((await check.verify(await jwks.sign(k1, orders))).ok).toBe(true);
    expect(jwks.fetches).toBe(1);
    // The cluster adds k2 and signs with it: unknown to our cache, but we asked a moment ago.
    jwks.serve([k1, k2]);
    time.advance(1000);
    const early = await check.verify(await jwks.sign(k2, orders));
    expect(early).toMatchObject({ ok: false, error: expect.stringContaining('signed with key "k2", which is not among') });
    expect(jwks.fetches).toBe(1);
    // Once the interval has passed, an unknown key id makes us ask again, once.
    time.advance(60_000);
    expect((await check.verify(await jwks.sign(k2, orders))).ok).toBe(true);
    expect(jwks.fetches).toBe(2);
    // A flood of tokens naming keys nobody has costs no fetch within the interval.
    const stranger = await createIssuerKey('k-unknown');
    for (let i = 0; i < 5; i++) expect((await check.verify(await jwks.sign(stranger, orders))).ok).toBe(false);
    expect(jwks.fetches).toBe(2);
    // k1 retired: tokens it signed stop verifying once the cached keys are refreshed.
    jwks.serve([k2]);
    time.advance(301_000);
    expect(await check.verify(await jwks.sign(k1, orders))).toMatchObject({ ok: false, error: expect.stringContaining('key "k1"') });
    expect(jwks.fetches).toBe(3);
  });

  it('keep the last keys while the issuer cannot be reached, and say so when there never were any', async () => {
    const k1 = await createIssuerKey('k1');
    const jwks = await issuer([k1]);
    const time = clock();
    const check = verifier(remote(jwks, time.now, { minRefreshIntervalMs: 1000, maxAgeMs: 60_000 }), time.now);
    expect((await check.verify(await jwks.sign(k1, orders))).ok).toBe(true);
    jwks.failWith(503);
    time.advance(61_000); // the cache is stale: we try, fail, and keep k1
    expect((await check.verify(await jwks.sign(k1, orders))).ok).toBe(true);
    expect(jwks.fetches).toBe(2);
    expect((await check.verify(await jwks.sign(k1, orders))).ok).toBe(true);
    expect(jwks.fetches).toBe(2); // and do not retry on every token

    const down = await issuer([k1]);
    down.failWith(500);
    const never = await verifier(remote(down, Date.now)).verify(await down.sign(k1, orders));
    expect(never).toEqual({
      ok: false,
      unavailable: true,
      error: `service-account token: the cluster's service-account keys could not be fetched from ${down.jwksUrl} (--k8s-jwks-url): HTTP 500: {"message":"unavailable"}`,
    });
  });

  it('come from a JWKS file, re-read when it changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-jwks-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'jwks.json');
    const k1 = await createIssuerKey('k1');
    const k2 = await createIssuerKey('k2');
    const signer = await issuer([]); // signs only; its JWKS server is not asked
    writeFileSync(file, JSON.stringify({ keys: [k1.jwk] }));
    const opened = FileJwks.open(file, log);
    if (!opened.ok) throw new Error(opened.error);
    const check = verifier(opened.keys);
    expect((await check.verify(await signer.sign(k1, orders))).ok).toBe(true);
    expect(await check.verify(await signer.sign(k2, orders))).toMatchObject({
      ok: false,
      error: `service-account token: signed with key "k2", which is not among the cluster's service-account keys (${file} (--k8s-jwks-file))`,
    });
    writeFileSync(file, JSON.stringify({ keys: [k1.jwk, k2.jwk] }));
    expect((await check.verify(await signer.sign(k2, orders))).ok).toBe(true);
    writeFileSync(file, '{"keys": ['); // a broken edit is refused; the keys stay
    expect((await check.verify(await signer.sign(k2, orders))).ok).toBe(true);

    expect(FileJwks.open(join(dir, 'missing.json'), log)).toEqual({
      ok: false,
      error: `--k8s-jwks-file ${join(dir, 'missing.json')}: ENOENT: no such file or directory, stat '${join(dir, 'missing.json')}'`,
    });
    writeFileSync(file, '{"keys": []}');
    expect(FileJwks.open(file, log)).toEqual({ ok: false, error: `--k8s-jwks-file ${file}: the JWKS has no keys` });
  });
});
