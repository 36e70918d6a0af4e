// A workload's current identity (private key + certificate chain) and trust bundle, in the
// shape TLS wants. Rotation swaps them and notifies listeners: new connections take the new
// context, established ones keep the one they were made with. The private key never leaves
// this object except into TLS contexts: toJSON and inspect print only public facts, and
// nothing here writes it anywhere.
import { type KeyObject, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { inspect } from 'node:util';
import { toPem } from './pem.ts';
import { oneLine, type TrustBundle } from './trust-bundle.ts';
import { spiffeIdOfSan } from './verify.ts';

export interface CertificateInfo {
  readonly spiffeId: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuer: string;
  /** Leaf first; certificates are public, so they may be shown (admin /config_dump). */
  readonly chainPem: string;
}

export type CredentialsChange = 'certificate' | 'bundle';

interface Current {
  readonly keyPem: string;
  readonly chain: readonly X509Certificate[];
  readonly chainPem: string;
  readonly spiffeId: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export class Credentials {
  #current: Current | undefined;
  #bundle: TrustBundle;
  #context: SecureContext | undefined;
  readonly #listeners = new Set<(change: CredentialsChange) => void>();

  constructor(bundle: TrustBundle) {
    this.#bundle = bundle;
  }

  get bundle(): TrustBundle {
    return this.#bundle;
  }

  get spiffeId(): string | undefined {
    return this.#current?.spiffeId;
  }

  get notAfter(): number | undefined {
    return this.#current?.notAfter;
  }

  get notBefore(): number | undefined {
    return this.#current?.notBefore;
  }

  get leaf(): X509Certificate | undefined {
    return this.#current?.chain[0];
  }

  /** Leaf first, then intermediates; empty before the first certificate. */
  get chain(): readonly X509Certificate[] {
    return this.#current?.chain ?? [];
  }

  /** Installs a new key and chain (leaf first). The caller has verified the chain. */
  setCertificate(key: KeyObject, chainDer: readonly Uint8Array[]): void {
    const chain = chainDer.map((der) => new X509Certificate(der));
    const leaf = chain[0];
    if (!leaf) throw new Error('empty certificate chain');
    const id = spiffeIdOfSan(leaf.subjectAltName);
    if (!id.ok) throw new Error(id.error.message);
    this.#current = {
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
      chain,
      chainPem: chainDer.map((der) => toPem('CERTIFICATE', der)).join(''),
      spiffeId: id.spiffeId,
      notBefore: Date.parse(leaf.validFrom),
      notAfter: Date.parse(leaf.validTo),
    };
    this.#changed('certificate');
  }

  setBundle(bundle: TrustBundle): void {
    if (bundle.equals(this.#bundle)) return;
    this.#bundle = bundle;
    this.#changed('bundle');
  }

  /** Options for tls.createSecureContext or tls.Server#setSecureContext; undefined
   * before the first certificate. TLS 1.3 only: every peer is a Weft sidecar. */
  get contextOptions(): SecureContextOptions | undefined {
    const current = this.#current;
    if (!current) return undefined;
    return { key: current.keyPem, cert: current.chainPem, ca: this.#bundle.pem, minVersion: 'TLSv1.3' };
  }

  /** One shared context per rotation, for outbound connections. */
  get secureContext(): SecureContext | undefined {
    if (!this.#context) {
      const options = this.contextOptions;
      if (options) this.#context = createSecureContext(options);
    }
    return this.#context;
  }

  /** The key and chain as PEM, for gRPC's certificate providers. */
  identityPem(): { keyPem: string; chainPem: string } | undefined {
    const current = this.#current;
    return current ? { keyPem: current.keyPem, chainPem: current.chainPem } : undefined;
  }

  onChange(listener: (change: CredentialsChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  describe(): { certificate: CertificateInfo | null; trustBundle: ReturnType<TrustBundle['describe']> } {
    const current = this.#current;
    const leaf = current?.chain[0];
    return {
      certificate:
        current && leaf
          ? {
              spiffeId: current.spiffeId,
              serial: leaf.serialNumber,
              notBefore: new Date(current.notBefore).toISOString(),
              notAfter: new Date(current.notAfter).toISOString(),
              issuer: oneLine(leaf.issuer),
              chainPem: current.chainPem,
            }
          : null,
      trustBundle: this.#bundle.describe(),
    };
  }

  toJSON(): unknown {
    return this.describe();
  }

  [inspect.custom](): string {
    return `Credentials(${this.#current?.spiffeId ?? 'no certificate'})`;
  }

  #changed(change: CredentialsChange): void {
    this.#context = undefined;
    for (const listener of this.#listeners) listener(change);
  }
}
