// The certificates of the HAProxy pair's mTLS hop, made with openssl the way Weft's CA will
// issue them (issue 3): RSA-2048 keys, SHA-256, a self-signed root, and SPIFFE X.509-SVID
// shaped leaves (one URI SAN, CA:false, serverAuth + clientAuth). Keys are mode 0600.
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The key Weft's CA issues (issue 3 measures it against `openssl speed rsa2048`). */
export const KEY_ALGORITHM = 'rsa:2048';
export const TRUST_DOMAIN = 'cluster.local';

export interface PairCertificates {
  readonly caFile: string;
  /** Certificate + key in one PEM, as HAProxy's `crt` wants it, per identity. */
  readonly bundle: Readonly<Record<string, string>>;
}

export function makeCertificates(dir: string, identities: readonly string[]): PairCertificates {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  openssl(
    'req',
    '-x509',
    '-newkey',
    KEY_ALGORITHM,
    '-nodes',
    '-sha256',
    '-days',
    '2',
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-subj',
    '/O=weft-bench/CN=weft bench root',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  chmodSync(caKey, 0o600);
  const bundle: Record<string, string> = {};
  for (const name of identities) {
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.pem`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(
      ext,
      [
        `subjectAltName=critical,URI:spiffe://${TRUST_DOMAIN}/ns/default/sa/${name}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        '',
      ].join('\n'),
    );
    openssl('req', '-newkey', KEY_ALGORITHM, '-nodes', '-keyout', key, '-out', csr, '-subj', '/O=weft-bench');
    chmodSync(key, 0o600);
    openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caFile,
      '-CAkey',
      caKey,
      '-set_serial',
      `0x${randomSerial()}`,
      '-days',
      '1',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      cert,
    );
    const combined = join(dir, `${name}.bundle.pem`);
    writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
    bundle[name] = combined;
  }
  return { caFile, bundle };
}

function randomSerial(): string {
  return Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16))
    .join('')
    .replace(/^0/, '1');
}
