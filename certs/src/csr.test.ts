import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr, createCsrWith, generateWorkloadKey, parseCsr } from './csr.ts';
import { publicKeyDer, type Signer, signerFor } from './x509-builder.ts';

const id = 'spiffe://cluster.local/ns/default/sa/orders';

describe('CSRs', () => {
  it('round-trips the key and the requested SPIFFE ID', () => {
    const key = generateWorkloadKey();
    const parsed = parseCsr(createCsr(key, id));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.csr.uris).toEqual([id]);
    expect(parsed.csr.publicKey.type).toBe('ec');
    expect(parsed.csr.publicKey.der.equals(publicKeyDer(key))).toBe(true);
  });

  it('refuses a request signed by another key than the one it carries', () => {
    const mine = generateWorkloadKey();
    const other = signerFor(generateWorkloadKey()) as Signer;
    const parsed = parseCsr(createCsrWith(publicKeyDer(mine), id, other));
    expect(parsed).toEqual({ ok: false, error: 'csr: signature does not verify with the public key in the request' });
  });

  it('refuses garbage, truncation and weak keys with a reason', () => {
    expect(parseCsr(Buffer.from('hello'))).toMatchObject({ ok: false, error: expect.stringContaining('csr: not DER') });
    const good = createCsr(generateWorkloadKey(), id);
    expect(parseCsr(good.subarray(0, good.length - 5))).toMatchObject({ ok: false, error: expect.stringContaining('csr: not DER') });
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    // signerFor refuses to sign with it, so sign with a strong key over the weak public key.
    const parsed = parseCsr(createCsrWith(publicKeyDer(weak), id, signerFor(generateWorkloadKey()) as Signer));
    expect(parsed).toEqual({ ok: false, error: 'csr: RSA keys must have at least 2048 bits, not 1024' });
  });
});
