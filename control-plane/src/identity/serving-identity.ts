// The control plane's own certificate, for TLS on its gRPC port: issued by its own CA to
// spiffe://<trust-domain>/weft/control-plane (not a workload path, so no token can ask for
// it), with a key made in this process. Renewed at half of its lifetime, and at once when
// the CA changes; new connections get the new one, open streams keep theirs.
import * as grpc from '@grpc/grpc-js';
import { Credentials, certificateProvider, controlPlaneSpiffeId, generateWorkloadKey, publicKeyInfo } from '@weft/certs';
import type { Logger } from 'pino';
import type { CaSource, CaState } from './ca-source.ts';

export class ServingIdentity {
  readonly credentials: Credentials;
  readonly spiffeId: string;
  readonly #source: CaSource;
  readonly #ttlMs: number;
  readonly #log: Logger;
  readonly #unsubscribe: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: CaSource, ttlMs: number, log: Logger) {
    this.#source = source;
    this.#ttlMs = ttlMs;
    this.#log = log.child({ component: 'ca' });
    this.spiffeId = controlPlaneSpiffeId(source.trustDomain);
    this.credentials = new Credentials(source.state.bundle);
    this.#issue(source.state);
    this.#unsubscribe = source.onChange((state) => {
      this.credentials.setBundle(state.bundle);
      this.#issue(state);
    });
  }

  /** TLS that asks for (but does not require) a client certificate: the CA serves new
   * sidecars that have none yet; discovery refuses callers without one. */
  serverCredentials(): grpc.ServerCredentials {
    const provider = certificateProvider(this.credentials);
    return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe();
  }

  #issue(state: CaState): void {
    clearTimeout(this.#timer);
    const key = generateWorkloadKey();
    const issued = state.ca.issue({ publicKey: publicKeyInfo(key), spiffeId: this.spiffeId, ttlMs: this.#ttlMs });
    this.credentials.setCertificate(key, issued.chain);
    const lifetime = issued.notAfter.getTime() - Date.now();
    this.#timer = setTimeout(() => this.#issue(this.#source.state), Math.max(1000, lifetime / 2));
    this.#timer.unref();
    this.#log.debug({ spiffeId: this.spiffeId, serial: issued.serial, notAfter: issued.notAfter }, 'control plane certificate issued');
  }
}
