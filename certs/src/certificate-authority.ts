// The certificate authority: a signing certificate and key (a root, or an intermediate
// with the chain up to its root) that issues X.509-SVIDs. It owns the SVID rules; who may
// ask for which identity (tokens, mTLS) is the control plane's business.
//
// SVID rules (SPIFFE X.509-SVID): exactly one URI SAN, the SPIFFE ID; empty subject, so the
// SAN is critical (RFC 5280 §4.2.1.6); basicConstraints CA:false; keyUsage digitalSignature
// (+ keyEncipherment for RSA keys); extKeyUsage serverAuth + clientAuth; a random 127-bit
// serial; a short lifetime that never outlives the signing certificate.
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { childrenOf, contentOf, encodeTlv, oidToString, readTlv, splitSigned, TAG } from './der.ts';
import { certificatesFromPem, toPem } from './pem.ts';
import {
  extensionDer,
  keyIdentifier,
  nameDer,
  OID,
  type PublicKeyInfo,
  publicKeyDer,
  randomSerialBytes,
  rawExtensionDer,
  type Signer,
  serialDer,
  signDer,
  signDerAsync,
  signerFor,
  uriSanExtensionDer,
  validityDer,
} from './x509-builder.ts';

export interface IssueRequest {
  readonly publicKey: PublicKeyInfo;
  /** The URI SAN. Workload IDs are checked by the caller; the CA checks the trust domain. */
  readonly spiffeId: string;
  readonly ttlMs: number;
  readonly now?: number;
}

export interface IssuedCertificate {
  readonly der: Buffer;
  /** Leaf first, then the intermediates up to (not including) the root. */
  readonly chain: readonly Buffer[];
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export type CaLoad = { ok: true; ca: CertificateAuthority } | { ok: false; errors: string[] };

/** Certificates are valid from a little before issuance, for clocks slightly behind ours. */
const BACKDATE_MS = 30_000;

export class CertificateAuthority {
  readonly trustDomain: string;
  /** The certificate that signs, as given. */
  readonly certificate: X509Certificate;
  /** Certificates from the signer up to, not including, the self-signed root. */
  readonly intermediates: readonly Buffer[];
  /** The self-signed root this CA's chain ends in. */
  readonly root: X509Certificate;
  readonly #signer: Signer;
  readonly #issuerName: Buffer;
  readonly #authorityKeyId: Buffer;
  readonly #constantExtensions: Buffer[];
  readonly #notAfter: number;
  /** Encodings that repeat from one certificate to the next (renewals of the same
   * identities; many certificates per second with the same validity): small, bounded. */
  readonly #sanCache = new Map<string, Buffer>();
  #validityCache: { notBefore: number; notAfter: number; der: Buffer } | undefined;

  private constructor(trustDomain: string, certificate: X509Certificate, signer: Signer, intermediates: Buffer[], root: X509Certificate) {
    this.trustDomain = trustDomain;
    this.certificate = certificate;
    this.intermediates = intermediates;
    this.root = root;
    this.#signer = signer;
    this.#notAfter = Date.parse(certificate.validTo);
    const parts = splitSigned(certificate.raw, 'the CA certificate');
    const { toBeSigned, fields } = parts;
    // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, spki, ...
    const subject = fields[5];
    const spki = fields[6];
    if (!subject || !spki) throw new Error('the CA certificate has no subject or public key');
    this.#issuerName = toBeSigned.subarray(subject.start, subject.end);
    this.#authorityKeyId = subjectKeyIdOf(certificate) ?? keyIdentifier(toBeSigned.subarray(spki.start, spki.end));
    this.#constantExtensions = [
      extensionDer({ name: 'basicConstraints', critical: true, cA: false }),
      extensionDer({ name: 'extKeyUsage', serverAuth: true, clientAuth: true }),
      rawExtensionDer(OID.authorityKeyIdentifier, false, encodeTlv(TAG.sequence, [encodeTlv(0x80, [this.#authorityKeyId])])),
    ];
  }

  /** Loads a signing certificate and key, plus the chain above it when it is an
   * intermediate. Every problem is listed, named by what it concerns. */
  static load(input: { certPem: string; keyPem: string; chainPem?: string; trustDomain: string; now?: number }): CaLoad {
    const errors: string[] = [];
    const now = input.now ?? Date.now();
    const [certDer] = certificatesFromPem(input.certPem);
    if (!certDer) return { ok: false, errors: ['CA certificate: no PEM CERTIFICATE found'] };
    let certificate: X509Certificate;
    let key: KeyObject;
    try {
      certificate = new X509Certificate(certDer);
    } catch (error) {
      return { ok: false, errors: [`CA certificate: cannot parse: ${(error as Error).message}`] };
    }
    try {
      key = createPrivateKey(input.keyPem);
    } catch (error) {
      return { ok: false, errors: [`CA key: cannot parse: ${(error as Error).message}`] };
    }
    const signer = signerFor(key);
    if (typeof signer === 'string') errors.push(`CA key: ${signer}`);
    if (!certificate.checkPrivateKey(key)) errors.push('CA key: does not belong to the CA certificate');
    if (!certificate.ca) errors.push('CA certificate: basicConstraints does not say CA:TRUE');
    const usage = keyUsageOf(certificate);
    if (usage !== undefined && !usage.keyCertSign) errors.push('CA certificate: keyUsage does not include keyCertSign');
    if (Date.parse(certificate.validTo) <= now) errors.push(`CA certificate: expired on ${certificate.validTo}`);
    if (Date.parse(certificate.validFrom) > now) errors.push(`CA certificate: not valid before ${certificate.validFrom}`);

    const chain: X509Certificate[] = [];
    for (const [i, der] of certificatesFromPem(input.chainPem ?? '').entries()) {
      try {
        chain.push(new X509Certificate(der));
      } catch (error) {
        errors.push(`CA chain: certificate ${i + 1}: cannot parse: ${(error as Error).message}`);
      }
    }
    const path = [certificate, ...chain.filter((c) => c.fingerprint256 !== certificate.fingerprint256)];
    for (let i = 0; i + 1 < path.length; i++) {
      const child = path[i] as X509Certificate;
      const parent = path[i + 1] as X509Certificate;
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
        errors.push(
          `CA chain: "${child.subject.replace(/\n/g, ', ')}" is not signed by the next certificate, "${parent.subject.replace(/\n/g, ', ')}"`,
        );
      }
    }
    const root = path.at(-1) as X509Certificate;
    if (!isSelfSigned(root)) {
      errors.push('CA chain: does not end in a self-signed root; give the intermediates and the root in --ca-chain');
    }
    if (errors.length > 0 || typeof signer === 'string') return { ok: false, errors };
    const intermediates = path.slice(0, -1).map((c) => Buffer.from(c.raw));
    return { ok: true, ca: new CertificateAuthority(input.trustDomain, certificate, signer, intermediates, root) };
  }

  /** Issues an X.509-SVID for `publicKey`. Throws only on a request the caller should
   * have refused (another trust domain); the control plane checks that first. */
  issue(request: IssueRequest): IssuedCertificate {
    const prepared = this.#prepare(request);
    return this.#finish(prepared, signDer(prepared.tbs, this.#signer));
  }

  /** As issue, signing on the threadpool (what the CA service uses under load). */
  async issueAsync(request: IssueRequest): Promise<IssuedCertificate> {
    const prepared = this.#prepare(request);
    return this.#finish(prepared, await signDerAsync(prepared.tbs, this.#signer));
  }

  #finish(prepared: { serial: string; notBefore: Date; notAfter: Date }, der: Buffer): IssuedCertificate {
    return {
      der,
      chain: [der, ...this.intermediates],
      serial: prepared.serial,
      notBefore: prepared.notBefore,
      notAfter: prepared.notAfter,
    };
  }

  #prepare(request: IssueRequest): { tbs: Buffer; serial: string; notBefore: Date; notAfter: Date } {
    if (!request.spiffeId.startsWith(`spiffe://${this.trustDomain}/`)) {
      throw new Error(`${request.spiffeId} is not in trust domain ${this.trustDomain}`);
    }
    const now = request.now ?? Date.now();
    const notBefore = new Date(Math.floor((now - BACKDATE_MS) / 1000) * 1000);
    const notAfter = new Date(Math.floor(Math.min(now + request.ttlMs, this.#notAfter) / 1000) * 1000);
    const cached = this.#validityCache;
    const validity =
      cached && cached.notBefore === notBefore.getTime() && cached.notAfter === notAfter.getTime()
        ? cached.der
        : validityDer(notBefore, notAfter);
    this.#validityCache = { notBefore: notBefore.getTime(), notAfter: notAfter.getTime(), der: validity };
    let san = this.#sanCache.get(request.spiffeId);
    if (!san) {
      if (this.#sanCache.size >= 10_000) this.#sanCache.clear();
      san = uriSanExtensionDer(request.spiffeId);
      this.#sanCache.set(request.spiffeId, san);
    }
    const spki = request.publicKey.der;
    const serial = serialDer(randomSerialBytes());
    const rsa = request.publicKey.type === 'rsa';
    const extensions = [
      this.#constantExtensions[0] as Buffer,
      rsa ? RSA_KEY_USAGE() : EC_KEY_USAGE(),
      this.#constantExtensions[1] as Buffer,
      san,
      rawExtensionDer(OID.subjectKeyIdentifier, false, encodeTlv(TAG.octetString, [keyIdentifier(spki)])),
      this.#constantExtensions[2] as Buffer,
    ];
    const tbs = encodeTlv(TAG.sequence, [
      VERSION_3,
      serial.der,
      this.#signer.algorithmDer,
      this.#issuerName,
      validity,
      EMPTY_NAME,
      spki,
      encodeTlv(0xa3, [encodeTlv(TAG.sequence, extensions)]),
    ]);
    return { tbs, serial: serial.hex, notBefore, notAfter };
  }
}

const VERSION_3 = encodeTlv(0xa0, [Buffer.from([TAG.integer, 1, 2])]);
const EMPTY_NAME = Buffer.from([TAG.sequence, 0]);
let ecKeyUsage: Buffer | undefined;
const EC_KEY_USAGE = () => (ecKeyUsage ??= extensionDer({ name: 'keyUsage', critical: true, digitalSignature: true }));
let rsaKeyUsage: Buffer | undefined;
const RSA_KEY_USAGE = () =>
  (rsaKeyUsage ??= extensionDer({ name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true }));

/** A self-signed RSA-2048 root for a trust domain: what the control plane creates when no
 * operator CA is given. */
export function createRootCa(options: { trustDomain: string; validityMs: number; now?: number }): { certPem: string; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signer = signerFor(privateKey) as Signer;
  const now = options.now ?? Date.now();
  const spki = publicKeyDer(privateKey);
  const keyId = keyIdentifier(spki);
  const name = nameDer([
    { shortName: 'O', value: 'Weft' },
    { shortName: 'CN', value: `Weft root CA ${options.trustDomain} ${keyId.subarray(0, 4).toString('hex')}` },
  ]);
  const extensions = [
    extensionDer({ name: 'basicConstraints', critical: true, cA: true }),
    extensionDer({ name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true }),
    rawExtensionDer(OID.subjectKeyIdentifier, false, encodeTlv(TAG.octetString, [keyId])),
  ];
  const tbs = encodeTlv(TAG.sequence, [
    VERSION_3,
    serialDer(randomBytes(16)).der,
    signer.algorithmDer,
    name,
    validityDer(new Date(now - BACKDATE_MS), new Date(now + options.validityMs)),
    name,
    spki,
    encodeTlv(0xa3, [encodeTlv(TAG.sequence, extensions)]),
  ]);
  return {
    certPem: toPem('CERTIFICATE', signDer(tbs, signer)),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/** Extensions of a certificate by OID: critical flag and the DER inside the OCTET STRING. */
export function extensionsOf(cert: X509Certificate): Map<string, { critical: boolean; value: Buffer }> {
  const out = new Map<string, { critical: boolean; value: Buffer }>();
  const { toBeSigned, fields } = splitSigned(cert.raw, 'certificate');
  const wrapper = fields.find((f) => f.tag === 0xa3);
  if (!wrapper) return out;
  const list = childrenOf(toBeSigned, wrapper)[0];
  if (!list) return out;
  for (const ext of childrenOf(toBeSigned, list)) {
    const [id, second, third] = childrenOf(toBeSigned, ext);
    if (!id) continue;
    const critical = second?.tag === 0x01 && toBeSigned[second.contentStart] !== 0;
    const valueTlv = second?.tag === TAG.octetString ? second : third;
    if (!valueTlv) continue;
    out.set(oidToString(contentOf(toBeSigned, id)), { critical, value: contentOf(toBeSigned, valueTlv) });
  }
  return out;
}

function subjectKeyIdOf(cert: X509Certificate): Buffer | undefined {
  const ext = extensionsOf(cert).get(OID.subjectKeyIdentifier);
  if (!ext) return undefined;
  const tlv = readTlv(ext.value, 0);
  return tlv.tag === TAG.octetString ? Buffer.from(contentOf(ext.value, tlv)) : undefined;
}

/** keyUsage bits we check, or undefined when the extension is absent. */
export function keyUsageOf(
  cert: X509Certificate,
): { digitalSignature: boolean; keyEncipherment: boolean; keyCertSign: boolean } | undefined {
  const ext = extensionsOf(cert).get(OID.keyUsage);
  if (!ext) return undefined;
  const bits = contentOf(ext.value, readTlv(ext.value, 0));
  const first = bits[1] ?? 0;
  return { digitalSignature: (first & 0x80) !== 0, keyEncipherment: (first & 0x20) !== 0, keyCertSign: (first & 0x04) !== 0 };
}
