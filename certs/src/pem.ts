// PEM text ↔ DER bytes for certificates, requests and keys.

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([^-]+)-----END \1-----/g;

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

/** Every PEM block in `text`, in order. Text outside blocks (comments) is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    out.push({ label: match[1] as string, der: Buffer.from((match[2] as string).replace(/\s+/g, ''), 'base64') });
  }
  return out;
}

export function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function certificatesFromPem(text: string): Buffer[] {
  return pemBlocks(text)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.der);
}
