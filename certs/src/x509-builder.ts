// Encodes X.509 pieces with node-forge's ASN.1 encoder and signs with Node's native
// crypto.sign. forge signing RSA in pure JS manages about 50 certificates/s here; the
// same bytes signed by OpenSSL through crypto.sign issue at close to `openssl speed`.
// forge's certificate model knows only RSA public keys, so public keys and algorithm
// identifiers come from the DER Node exports, which works for RSA and ECDSA alike.
import { createHash, createPublicKey, type KeyObject, randomFillSync, sign } from 'node:crypto';
import { createRequire } from 'node:module';
import type forgeType from 'node-forge';
import { childrenOf, contentOf, encodeTlv, readTlv, TAG } from './der.ts';

// node-forge is loaded on first use (the CA's name, extension and time encoders), not at
// import: a sidecar only makes CSRs, whose pieces are encoded here by hand, and forge's
// module graph costs about 1.2 MB of heap (bench/RESULTS.md).
let forgeModule: typeof forgeType | undefined;
const forge = (): typeof forgeType => (forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof forgeType);

export type HashName = 'sha256' | 'sha384';

/** A private key ready to sign, with the AlgorithmIdentifier its signatures carry. */
export interface Signer {
  readonly key: KeyObject;
  readonly hash: HashName;
  /** DER AlgorithmIdentifier of the signature (sha256WithRSAEncryption, ecdsa-with-SHA256/384). */
  readonly algorithmDer: Buffer;
}

export const OID = {
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

/** The hash each accepted signature algorithm uses; others are refused. */
export const SIGNATURE_HASH: Readonly<Record<string, HashName>> = {
  [OID.sha256WithRSA]: 'sha256',
  [OID.sha384WithRSA]: 'sha384',
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
};

/** A Signer for an RSA (≥ 2048 bits) or ECDSA P-256/P-384 private key; a string says why not. */
export function signerFor(key: KeyObject): Signer | string {
  if (key.type !== 'private') return 'not a private key';
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) return `RSA keys must have at least 2048 bits, this one has ${details.modulusLength}`;
    return { key, hash: 'sha256', algorithmDer: algorithmIdentifier(OID.sha256WithRSA, true) };
  }
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return { key, hash: 'sha256', algorithmDer: algorithmIdentifier(OID.ecdsaWithSha256, false) };
    if (details.namedCurve === 'secp384r1') return { key, hash: 'sha384', algorithmDer: algorithmIdentifier(OID.ecdsaWithSha384, false) };
    return `ECDSA keys must use P-256 or P-384, not ${details.namedCurve}`;
  }
  return `${key.asymmetricKeyType} keys are not supported; use RSA or ECDSA P-256`;
}

/** SEQUENCE { toBeSigned, algorithm, BIT STRING signature }: a certificate or CSR. */
export function signDer(toBeSigned: Buffer, signer: Signer): Buffer {
  const signature = sign(signer.hash, toBeSigned, signer.key);
  return encodeTlv(TAG.sequence, [toBeSigned, signer.algorithmDer, encodeTlv(TAG.bitString, [ZERO, signature])]);
}

/** As signDer, with the signature computed on libuv's threadpool: the event loop stays free
 * and concurrent requests use every core. */
export function signDerAsync(toBeSigned: Buffer, signer: Signer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign(signer.hash, toBeSigned, signer.key, (error, signature) => {
      if (error) reject(error);
      else resolve(encodeTlv(TAG.sequence, [toBeSigned, signer.algorithmDer, encodeTlv(TAG.bitString, [ZERO, signature])]));
    });
  });
}

const ZERO = Buffer.from([0]);

export function toDer(node: forgeType.asn1.Asn1): Buffer {
  return Buffer.from(forge().asn1.toDer(node).getBytes(), 'binary');
}

export function fromDer(der: Uint8Array): forgeType.asn1.Asn1 {
  return forge().asn1.fromDer(Buffer.from(der).toString('binary'));
}

export function algorithmIdentifier(oid: string, nullParams: boolean): Buffer {
  const parts = [oidDer(oid)];
  if (nullParams) parts.push(Buffer.from([0x05, 0x00]));
  return encodeTlv(TAG.sequence, parts);
}

/** An OID's content octets (X.690 §8.19): the first two arcs as 40·a + b, then each arc in
 * base 128, high bit set on all but its last byte. */
function oidContent(oid: string): Buffer {
  const arcs = oid.split('.').map(Number);
  const bytes: number[] = [];
  const push = (n: number) => {
    const out = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.unshift((n & 0x7f) | 0x80);
    bytes.push(...out);
  };
  push((arcs[0] as number) * 40 + (arcs[1] as number));
  for (const arc of arcs.slice(2)) push(arc);
  return Buffer.from(bytes);
}

/** A Name from attributes like [{shortName: 'CN', value: 'x'}]; [] gives the empty Name. */
export function nameDer(attributes: readonly { shortName: string; value: string }[]): Buffer {
  const { pki } = forge();
  const scratch = pki.createCertificate();
  scratch.setSubject(attributes.map((a) => ({ shortName: a.shortName, value: a.value })));
  return toDer(pki.distinguishedNameToAsn1(scratch.subject));
}

/** forge extension specs (name + fields, or an explicit DER `value`) → one Extension each, DER. */
export function extensionDer(spec: Record<string, unknown>): Buffer {
  const { pki } = forge();
  const scratch = pki.createCertificate();
  scratch.setExtensions([{ ...spec }]);
  const encode = (pki as unknown as { certificateExtensionToAsn1(e: unknown): forgeType.asn1.Asn1 }).certificateExtensionToAsn1;
  return toDer(encode(scratch.extensions[0]));
}

/** An extension whose value is already DER. Assembled directly rather than through
 * forge: these are the per-certificate ones (SAN, key ids), on the issuance hot path. */
export function rawExtensionDer(oid: string, critical: boolean, valueDer: Buffer): Buffer {
  const parts = [oidDer(oid)];
  if (critical) parts.push(TRUE);
  parts.push(encodeTlv(TAG.octetString, [valueDer]));
  return encodeTlv(TAG.sequence, parts);
}

const TRUE = Buffer.from([0x01, 0x01, 0xff]);
const oidCache = new Map<string, Buffer>();

export function oidDer(oid: string): Buffer {
  let der = oidCache.get(oid);
  if (!der) {
    der = encodeTlv(0x06, [oidContent(oid)]);
    oidCache.set(oid, der);
  }
  return der;
}

/** subjectAltName with one URI (GeneralName [6] IA5String), critical: SVIDs have an empty subject. */
export function uriSanExtensionDer(uri: string): Buffer {
  return rawExtensionDer(OID.subjectAltName, true, encodeTlv(TAG.sequence, [encodeTlv(0x86, [Buffer.from(uri, 'ascii')])]));
}

/** Random bytes from a pooled buffer: one randomFillSync per 256 serials instead of one
 * call each (each call costs several microseconds). */
let pool = Buffer.alloc(0);
let poolOffset = 0;
export function randomSerialBytes(): Buffer {
  if (poolOffset + 16 > pool.length) {
    pool = randomFillSync(Buffer.alloc(4096));
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
  poolOffset += 16;
  return out;
}

/** A public key as the CA needs it: the SubjectPublicKeyInfo DER and its algorithm. */
export interface PublicKeyInfo {
  readonly der: Buffer;
  readonly type: 'rsa' | 'ec';
}

export function publicKeyInfo(key: KeyObject): PublicKeyInfo {
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') throw new Error(`${type} keys are not supported`);
  return { der: publicKeyDer(key), type };
}

export function validityDer(notBefore: Date, notAfter: Date): Buffer {
  return encodeTlv(TAG.sequence, [timeDer(notBefore), timeDer(notAfter)]);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function timeDer(date: Date): Buffer {
  const { asn1 } = forge();
  const utc = date.getUTCFullYear() < 2050;
  const value = utc ? asn1.dateToUtcTime(date) : asn1.dateToGeneralizedTime(date);
  return toDer(asn1.create(asn1.Class.UNIVERSAL, utc ? asn1.Type.UTCTIME : asn1.Type.GENERALIZEDTIME, false, value));
}

/** A positive INTEGER from random bytes: the top bit is cleared so it is not negative, and
 * a leading zero byte is avoided so the encoding stays minimal (DER). */
export function serialDer(random: Buffer): { der: Buffer; hex: string } {
  const bytes = Buffer.from(random);
  bytes[0] = (bytes[0] as number) & 0x7f || 0x01;
  return { der: encodeTlv(TAG.integer, [bytes]), hex: bytes.toString('hex') };
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const [, bitString] = childrenOf(spkiDer, readTlv(spkiDer, 0));
  if (!bitString || bitString.tag !== TAG.bitString) throw new Error('SubjectPublicKeyInfo without a BIT STRING');
  return createHash('sha1').update(contentOf(spkiDer, bitString).subarray(1)).digest();
}

export function publicKeyDer(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return publicKey.export({ type: 'spki', format: 'der' });
}
