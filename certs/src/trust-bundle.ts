// A trust bundle: the CA certificates (roots) a workload trusts for its trust domain. It
// may hold several, so a root can be rotated: add the new one, reissue, remove the old.
import { X509Certificate } from 'node:crypto';
import { certificatesFromPem, toPem } from './pem.ts';

export type BundleParse = { ok: true; bundle: TrustBundle } | { ok: false; error: string };

export class TrustBundle {
  readonly roots: readonly X509Certificate[];
  /** The roots as one PEM text: the `ca` option of TLS contexts. */
  readonly pem: string;

  private constructor(roots: readonly X509Certificate[]) {
    this.roots = roots;
    this.pem = roots.map((r) => toPem('CERTIFICATE', r.raw)).join('');
  }

  static fromPem(text: string, source: string): BundleParse {
    return TrustBundle.fromDer(certificatesFromPem(text), source);
  }

  /** Duplicates are dropped; every certificate must be a CA certificate. */
  static fromDer(ders: readonly Uint8Array[], source: string): BundleParse {
    if (ders.length === 0) return { ok: false, error: `${source}: no certificates` };
    const roots: X509Certificate[] = [];
    const seen = new Set<string>();
    for (const [i, der] of ders.entries()) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(der);
      } catch (error) {
        return { ok: false, error: `${source}: certificate ${i + 1}: cannot parse: ${(error as Error).message}` };
      }
      if (!cert.ca) return { ok: false, error: `${source}: certificate ${i + 1} ("${oneLine(cert.subject)}") is not a CA certificate` };
      if (seen.has(cert.fingerprint256)) continue;
      seen.add(cert.fingerprint256);
      roots.push(cert);
    }
    return { ok: true, bundle: new TrustBundle(roots) };
  }

  /** The root in this bundle that issued and signed `cert`, if any. */
  anchorOf(cert: X509Certificate): X509Certificate | undefined {
    return this.roots.find(
      (root) => root.fingerprint256 === cert.fingerprint256 || (cert.checkIssued(root) && cert.verify(root.publicKey)),
    );
  }

  get fingerprints(): string[] {
    return this.roots.map((r) => r.fingerprint256);
  }

  equals(other: TrustBundle): boolean {
    return this.pem === other.pem;
  }

  /** Public facts for status pages and logs. */
  describe(): { subject: string; fingerprint: string; notAfter: string }[] {
    return this.roots.map((r) => ({ subject: oneLine(r.subject), fingerprint: r.fingerprint256, notAfter: r.validTo }));
  }
}

/** A distinguished name as Node prints it ("O=x\nCN=y") on one line; SVIDs have none. */
export function oneLine(dn: string | undefined): string {
  return (dn ?? '').split('\n').filter(Boolean).join(', ');
}
