// PKCS#10 certificate signing requests (RFC 2986) for workload identities. The sidecar
// creates one for its in-process key, naming its SPIFFE ID as the only URI SAN; the CA
// parses it and checks that the signature verifies with the key inside, so the requester
// proves it holds the private key. Nothing else in a CSR is trusted or copied.
import { createPublicKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { childrenOf, contentOf, DerError, encodeTlv, readTlv, splitSigned, TAG, type Tlv } from './der.ts';
import {
  OID,
  oidDer,
  type PublicKeyInfo,
  publicKeyDer,
  SIGNATURE_HASH,
  type Signer,
  signDer,
  signerFor,
  uriSanExtensionDer,
} from './x509-builder.ts';

/** Workload keys are ECDSA P-256: generating one takes well under a millisecond (RSA-2048
 * takes tens to hundreds), handshakes are cheaper, and every TLS 1.3 stack supports it. */
export function generateWorkloadKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

const MAX_CSR_BYTES = 8 * 1024;

/** A DER CSR for `key`, asking for `spiffeId` as its only URI SAN, with an empty subject. */
export function createCsr(key: KeyObject, spiffeId: string): Buffer {
  const signer = signerFor(key);
  if (typeof signer === 'string') throw new Error(signer);
  return createCsrWith(publicKeyDer(key), spiffeId, signer);
}

/** As createCsr, but the public key and the signer are given apart. Tests use it to build a
 * request whose signature does not match its key. */
export function createCsrWith(spki: Buffer, spiffeId: string, signer: Signer): Buffer {
  const extensions = encodeTlv(TAG.sequence, [uriSanExtensionDer(spiffeId)]);
  const extensionRequest = encodeTlv(TAG.sequence, [oidDer(OID.extensionRequest), encodeTlv(TAG.set, [extensions])]);
  const info = encodeTlv(TAG.sequence, [
    Buffer.from([TAG.integer, 1, 0]),
    Buffer.from([TAG.sequence, 0]),
    spki,
    encodeTlv(0xa0, [extensionRequest]),
  ]);
  return signDer(info, signer);
}

export interface ParsedCsr {
  readonly publicKey: PublicKeyInfo;
  /** Every URI SAN the request asks for (a valid one has exactly one). */
  readonly uris: readonly string[];
}

export type CsrParse = { ok: true; csr: ParsedCsr } | { ok: false; error: string };

/** Parses a DER CSR and verifies its signature with the public key it carries. */
export function parseCsr(der: Uint8Array): CsrParse {
  if (der.length === 0) return { ok: false, error: 'csr: empty' };
  if (der.length > MAX_CSR_BYTES) return { ok: false, error: `csr: larger than ${MAX_CSR_BYTES} bytes` };
  try {
    const { toBeSigned, algorithmOid, signature, fields } = splitSigned(der, 'csr');
    const [version, , spkiTlv, attributes] = fields;
    if (!version || version.tag !== TAG.integer || !spkiTlv || spkiTlv.tag !== TAG.sequence) {
      return { ok: false, error: 'csr: not a PKCS#10 CertificationRequestInfo' };
    }
    const spki = Buffer.from(toBeSigned.subarray(spkiTlv.start, spkiTlv.end));
    let key: KeyObject;
    try {
      key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    } catch (error) {
      return { ok: false, error: `csr: unreadable public key: ${(error as Error).message}` };
    }
    const keyProblem = workloadKeyProblem(key);
    if (keyProblem) return { ok: false, error: `csr: ${keyProblem}` };
    const hash = SIGNATURE_HASH[algorithmOid];
    if (!hash) return { ok: false, error: `csr: signature algorithm ${algorithmOid} is not supported` };
    if (!verify(hash, toBeSigned, key, signature)) {
      return { ok: false, error: 'csr: signature does not verify with the public key in the request' };
    }
    const uris = attributes?.tag === 0xa0 ? requestedUris(toBeSigned, attributes) : [];
    return { ok: true, csr: { publicKey: { der: spki, type: key.asymmetricKeyType as 'rsa' | 'ec' }, uris } };
  } catch (error) {
    if (error instanceof DerError) return { ok: false, error: `csr: not DER: ${error.message}` };
    throw error;
  }
}

function workloadKeyProblem(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    return details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1'
      ? undefined
      : `ECDSA keys must use P-256 or P-384, not ${details.namedCurve}`;
  }
  if (key.asymmetricKeyType === 'rsa') {
    return (details.modulusLength ?? 0) >= 2048 ? undefined : `RSA keys must have at least 2048 bits, not ${details.modulusLength}`;
  }
  return `${key.asymmetricKeyType} keys are not accepted; use ECDSA P-256`;
}

/** URI SANs from the extensionRequest attribute. */
function requestedUris(der: Buffer, attributes: Tlv): string[] {
  const uris: string[] = [];
  for (const attribute of childrenOf(der, attributes)) {
    const [type, values] = childrenOf(der, attribute);
    if (!type || !values || !contentOf(der, type).equals(EXTENSION_REQUEST_OID)) continue;
    for (const extensions of childrenOf(der, values)) {
      for (const extension of childrenOf(der, extensions)) {
        const parts = childrenOf(der, extension);
        const id = parts[0];
        const value = parts.at(-1);
        if (!id || !value || !contentOf(der, id).equals(SAN_OID)) continue;
        const inner = contentOf(der, value);
        for (const name of childrenOf(inner, readTlv(inner, 0))) {
          if (name.tag === 0x86) uris.push(contentOf(inner, name).toString('ascii'));
        }
      }
    }
  }
  return uris;
}

const EXTENSION_REQUEST_OID = oidDer(OID.extensionRequest).subarray(2);
const SAN_OID = oidDer(OID.subjectAltName).subarray(2);
