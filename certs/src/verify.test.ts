import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority, createRootCa } from './certificate-authority.ts';
import { generateWorkloadKey } from './csr.ts';
import { TrustBundle } from './trust-bundle.ts';
import { spiffeIdOfSan, verifyChain } from './verify.ts';
import { publicKeyInfo } from './x509-builder.ts';

function ca() {
  const root = createRootCa({ trustDomain: 'cluster.local', validityMs: 86_400_000 });
  const loaded = CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem, trustDomain: 'cluster.local' });
  if (!loaded.ok) throw new Error(loaded.errors.join());
  const bundle = TrustBundle.fromPem(root.certPem, 'root');
  if (!bundle.ok) throw new Error(bundle.error);
  return { ca: loaded.ca, bundle: bundle.bundle };
}

describe('verifyChain', () => {
  const a = ca();
  const b = ca();
  const id = 'spiffe://cluster.local/ns/default/sa/orders';
  const leaf = new X509Certificate(a.ca.issue({ publicKey: publicKeyInfo(generateWorkloadKey()), spiffeId: id, ttlMs: 60_000 }).der);

  it('accepts a chain to a root in the bundle with the expected ID', () => {
    expect(verifyChain([leaf], a.bundle, { id })).toEqual({ ok: true, spiffeId: id });
  });

  it('names what is wrong: another CA, another identity, expiry', () => {
    expect(verifyChain([leaf], b.bundle, { id })).toMatchObject({ ok: false, error: { kind: 'untrusted' } });
    expect(verifyChain([leaf], a.bundle, { id: 'spiffe://cluster.local/ns/default/sa/web' })).toEqual({
      ok: false,
      error: { kind: 'identity-mismatch', message: `peer is ${id}, expected spiffe://cluster.local/ns/default/sa/web` },
    });
    expect(verifyChain([leaf], a.bundle, { id }, Date.now() + 120_000)).toMatchObject({ ok: false, error: { kind: 'expired' } });
    expect(verifyChain([leaf], a.bundle, { trustDomain: 'example.org' })).toMatchObject({
      ok: false,
      error: { kind: 'wrong-trust-domain' },
    });
  });

  it('trusts either root while a bundle holds two', () => {
    const both = TrustBundle.fromPem(a.bundle.pem + b.bundle.pem, 'both');
    if (!both.ok) throw new Error(both.error);
    expect(both.bundle.roots).toHaveLength(2);
    expect(verifyChain([leaf], both.bundle, { id }).ok).toBe(true);
  });
});

describe('spiffeIdOfSan', () => {
  it('wants exactly one URI SAN, a SPIFFE ID', () => {
    expect(spiffeIdOfSan('DNS:x, URI:spiffe://td/ns/a/sa/b')).toEqual({ ok: true, spiffeId: 'spiffe://td/ns/a/sa/b' });
    expect(spiffeIdOfSan('URI:spiffe://td/ns/a/sa/b, URI:spiffe://td/ns/a/sa/c').ok).toBe(false);
    expect(spiffeIdOfSan('DNS:example.com').ok).toBe(false);
    expect(spiffeIdOfSan('URI:https://example.com').ok).toBe(false);
    expect(spiffeIdOfSan('URI:"spiffe://td/ns/a/sa/b, URI:spiffe://td/ns/x/sa/y"').ok).toBe(true);
  });
});
