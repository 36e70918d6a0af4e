import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, createRootCa, extensionsOf, keyUsageOf } from './certificate-authority.ts';
import { toPem } from './pem.ts';
import { OID, publicKeyInfo } from './x509-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-ca-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const root = createRootCa({ trustDomain: 'cluster.local', validityMs: 365 * 86_400_000 });
const loaded = CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem, trustDomain: 'cluster.local' });
if (!loaded.ok) throw new Error(loaded.errors.join('; '));
const ca = loaded.ca;
const id = 'spiffe://cluster.local/ns/default/sa/orders';

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('CertificateAuthority', () => {
  it('issues X.509-SVIDs that openssl verifies against the root', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const issued = ca.issue({ publicKey: publicKeyInfo(key), spiffeId: id, ttlMs: 3_600_000 });
    writeFileSync(join(dir, 'root.pem'), root.certPem);
    writeFileSync(join(dir, 'leaf.pem'), toPem('CERTIFICATE', issued.der));
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'root.pem'), join(dir, 'leaf.pem')])).toContain('OK');
    expect(openssl(['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'root.pem'), join(dir, 'leaf.pem')])).toContain('OK');

    const cert = new X509Certificate(issued.der);
    expect(cert.subjectAltName).toBe(`URI:${id}`);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(keyUsageOf(cert)).toEqual({ digitalSignature: true, keyEncipherment: false, keyCertSign: false });
    expect(extensionsOf(cert).get(OID.subjectAltName)?.critical).toBe(true);
    expect(BigInt(`0x${cert.serialNumber}`)).toBeGreaterThan(2n ** 64n);
    expect(Date.parse(cert.validTo) - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(3_590_000);
  });

  it('adds keyEncipherment for RSA keys and gives every certificate a new serial', () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const a = new X509Certificate(ca.issue({ publicKey: publicKeyInfo(key), spiffeId: id, ttlMs: 60_000 }).der);
    const b = new X509Certificate(ca.issue({ publicKey: publicKeyInfo(key), spiffeId: id, ttlMs: 60_000 }).der);
    expect(keyUsageOf(a)?.keyEncipherment).toBe(true);
    expect(a.serialNumber).not.toBe(b.serialNumber);
  });

  it('never issues beyond the signing certificate', () => {
    const key = publicKeyInfo(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
    const cert = new X509Certificate(ca.issue({ publicKey: key, spiffeId: id, ttlMs: 10 * 365 * 86_400_000 }).der);
    expect(Date.parse(cert.validTo)).toBeLessThanOrEqual(Date.parse(ca.certificate.validTo));
  });

  it('refuses another trust domain', () => {
    const key = publicKeyInfo(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
    expect(() => ca.issue({ publicKey: key, spiffeId: 'spiffe://other.example/ns/default/sa/orders', ttlMs: 1000 })).toThrow(
      /not in trust domain cluster.local/,
    );
  });

  it('loads an intermediate with its chain, and lists every problem with bad files', () => {
    writeFileSync(join(dir, 'root.key'), root.keyPem);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'int.key')]);
    openssl(['req', '-new', '-key', join(dir, 'int.key'), '-subj', '/O=Test/CN=intermediate', '-out', join(dir, 'int.csr')]);
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    openssl([
      'x509',
      '-req',
      '-in',
      join(dir, 'int.csr'),
      '-CA',
      join(dir, 'root.pem'),
      '-CAkey',
      join(dir, 'root.key'),
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      join(dir, 'ext.cnf'),
      '-out',
      join(dir, 'int.pem'),
    ]);
    const intermediate = CertificateAuthority.load({
      certPem: readFileSync(join(dir, 'int.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'int.key'), 'utf8'),
      chainPem: root.certPem,
      trustDomain: 'cluster.local',
    });
    if (!intermediate.ok) throw new Error(intermediate.errors.join('; '));
    const key = publicKeyInfo(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
    const issued = intermediate.ca.issue({ publicKey: key, spiffeId: id, ttlMs: 60_000 });
    expect(issued.chain).toHaveLength(2);
    writeFileSync(join(dir, 'leaf2.pem'), toPem('CERTIFICATE', issued.der));
    expect(openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'int.pem'), join(dir, 'leaf2.pem')])).toContain(
      'OK',
    );
    // ECDSA signer: the certificate says so.
    expect(openssl(['x509', '-in', join(dir, 'leaf2.pem'), '-noout', '-text'])).toContain('ecdsa-with-SHA256');

    const other = createRootCa({ trustDomain: 'cluster.local', validityMs: 86_400_000 });
    const bad = CertificateAuthority.load({
      certPem: readFileSync(join(dir, 'int.pem'), 'utf8'),
      keyPem: other.keyPem,
      trustDomain: 'cluster.local',
    });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.errors).toEqual([
      'CA key: does not belong to the CA certificate',
      'CA chain: does not end in a self-signed root; give the intermediates and the root in --ca-chain',
    ]);
  });
});
