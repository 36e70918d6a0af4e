// Reads DER structure without re-encoding it: slices a signed object (certificate, CSR)
// into the exact bytes its signature covers, and walks into nested elements. Only what
// the CA and verification need; building DER is node-forge's job (x509-builder.ts).

/** One element: tag byte, where its header starts, where its contents start and end. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

export class DerError extends Error {
  override readonly name = 'DerError';
}

export const TAG = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  sequence: 0x30,
  set: 0x31,
} as const;

/** The element starting at `offset`. Throws DerError on truncated or oversized input. */
export function readTlv(der: Uint8Array, offset = 0): Tlv {
  if (offset + 2 > der.length) throw new DerError(`truncated DER at byte ${offset}`);
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tags are not supported (byte ${offset})`);
  let length = der[offset + 1] as number;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 3) throw new DerError(`unsupported length encoding at byte ${offset}`);
    if (contentStart + bytes > der.length) throw new DerError(`truncated DER length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[contentStart + i] as number);
    contentStart += bytes;
  }
  const end = contentStart + length;
  if (end > der.length) throw new DerError(`DER element at byte ${offset} runs past the end of the input`);
  return { tag, start: offset, contentStart, end };
}

/** The elements inside a constructed element. */
export function childrenOf(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readTlv(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** Reads one element that must span the whole input and have the given tag. */
export function readWhole(der: Uint8Array, tag: number, what: string): Tlv {
  const tlv = readTlv(der, 0);
  if (tlv.tag !== tag || tlv.end !== der.length) throw new DerError(`${what} is not a single DER ${tagName(tag)}`);
  return tlv;
}

export function bytesOf(der: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + tlv.start, tlv.end - tlv.start);
}

export function contentOf(der: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + tlv.contentStart, tlv.end - tlv.contentStart);
}

/** SIGNED{ToBeSigned} (RFC 5280 Certificate, RFC 2986 CertificationRequest): the signed
 * bytes exactly as received, the signature algorithm OID and the signature. */
export interface SignedParts {
  readonly toBeSigned: Buffer;
  readonly algorithmOid: string;
  readonly signature: Buffer;
  /** The elements of the to-be-signed SEQUENCE, as offsets into `toBeSigned`. */
  readonly fields: readonly Tlv[];
}

export function splitSigned(der: Uint8Array, what: string): SignedParts {
  const outer = readWhole(der, TAG.sequence, what);
  const [tbs, algorithm, signature] = childrenOf(der, outer);
  if (!tbs || !algorithm || !signature || tbs.tag !== TAG.sequence || algorithm.tag !== TAG.sequence || signature.tag !== TAG.bitString) {
    throw new DerError(`${what} is not SEQUENCE { toBeSigned, algorithm, BIT STRING signature }`);
  }
  const algorithmOid = childrenOf(der, algorithm)[0];
  if (!algorithmOid || algorithmOid.tag !== TAG.oid) throw new DerError(`${what}: signature algorithm has no OID`);
  const bits = contentOf(der, signature);
  if (bits[0] !== 0) throw new DerError(`${what}: signature BIT STRING has unused bits`);
  const toBeSigned = bytesOf(der, tbs);
  return {
    toBeSigned,
    algorithmOid: oidToString(contentOf(der, algorithmOid)),
    signature: bits.subarray(1),
    fields: childrenOf(toBeSigned, readTlv(toBeSigned, 0)),
  };
}

/** Decodes OID contents (X.690 §8.19) to dotted form. */
export function oidToString(content: Uint8Array): string {
  if (content.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() as number;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

function tagName(tag: number): string {
  return tag === TAG.sequence ? 'SEQUENCE' : `tag 0x${tag.toString(16)}`;
}

/** Encodes one element from already-encoded contents (used to assemble signed objects
 * from DER pieces without a second encoding pass). */
export function encodeTlv(tag: number, contents: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const c of contents) length += c.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else header = Buffer.from([tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
  return Buffer.concat([header, ...contents], header.length + length);
}
