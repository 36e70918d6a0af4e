// Credentials as gRPC certificate providers (grpc-js `experimental.CertificateProvider`),
// so gRPC channels and servers pick up rotated certificates and bundles for new
// connections. Typed structurally: this package does not depend on grpc-js.
import type { Credentials } from './credentials.ts';

type CaListener = (update: { caCertificate: Buffer } | null) => void;
type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;

export interface CertificateProviderLike {
  addCaCertificateListener(listener: CaListener): void;
  removeCaCertificateListener(listener: CaListener): void;
  addIdentityCertificateListener(listener: IdentityListener): void;
  removeIdentityCertificateListener(listener: IdentityListener): void;
}

/** One provider that serves both roles: the bundle as CA certificates and the current
 * key and chain as the identity. A listener hears the current value (if there is one)
 * right after it is added, and every change after. "Right after", not during: grpc-js
 * servers subscribe to providers before they register the watcher the value must reach. */
export function certificateProvider(credentials: Credentials): CertificateProviderLike {
  const caListeners = new Set<CaListener>();
  const identityListeners = new Set<IdentityListener>();
  const ca = () => ({ caCertificate: Buffer.from(credentials.bundle.pem) });
  const identity = () => {
    const pem = credentials.identityPem();
    return pem ? { certificate: Buffer.from(pem.chainPem), privateKey: Buffer.from(pem.keyPem) } : undefined;
  };
  credentials.onChange((change) => {
    if (change === 'bundle') for (const l of caListeners) l(ca());
    const update = identity();
    if (update) for (const l of identityListeners) l(update);
  });
  return {
    addCaCertificateListener(listener) {
      caListeners.add(listener);
      queueMicrotask(() => {
        if (caListeners.has(listener)) listener(ca());
      });
    },
    removeCaCertificateListener(listener) {
      caListeners.delete(listener);
    },
    addIdentityCertificateListener(listener) {
      identityListeners.add(listener);
      queueMicrotask(() => {
        const update = identity();
        if (update && identityListeners.has(listener)) listener(update);
      });
    },
    removeIdentityCertificateListener(listener) {
      identityListeners.delete(listener);
    },
  };
}
