// The sidecar's workload identity. It makes a key pair in this process (the private key
// never leaves it), asks the control plane's CA for a certificate with a CSR, checks the
// answer (chains to the trust bundle, names our SPIFFE ID, holds our key) and installs it
// in Credentials, from which TLS takes it for new connections.
//
// States:
//   - 'requesting': no certificate yet, a request is under way or waiting for backoff;
//   - 'ready': a valid certificate is installed, the next renewal is scheduled;
//   - 'renewing': a renewal failed and is retried with backoff; the current certificate
//     keeps serving until it expires;
//   - 'expired': retrying, and the certificate has expired (peers refuse us meanwhile);
//   - 'closed'.
//
// With a join token, the first request proves the identity with the token and renewals
// prove it with the current certificate over mTLS (the token may have expired long ago).
// With a Kubernetes service-account token file, every request sends the token, read afresh
// (the kubelet rewrites it before it expires): each certificate rests on what the cluster
// says about the pod now, so a copied certificate cannot renew itself. Renewal happens at
// 40–60 % of the remaining lifetime, and within seconds when the CA's signer changes.
import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { type Credentials, createCsr, generateWorkloadKey, TrustBundle, verifyChain } from '@weft/certs';
import {
  CertificateAuthorityService,
  type CertifyRequest,
  CertifyRequestSchema,
  type CertifyResponse,
  toGrpcServiceDefinition,
} from '@weft/proto';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from '../xds/backoff.ts';
import type { TrustUpdate } from '../xds/resources/trust-bundle.ts';
import { CONTROL_PLANE_CHANNEL_OPTIONS, controlPlaneCredentials } from './control-plane-channel.ts';
import { readServiceAccountTokenFile } from './service-account-token-file.ts';

export type IdentityState = 'requesting' | 'ready' | 'renewing' | 'expired' | 'closed';

/** What the sidecar shows the CA to prove who it is. */
export type IdentityProof =
  | { readonly kind: 'join-token'; readonly token: string }
  | { readonly kind: 'service-account-token'; readonly file: string };

export interface IdentityClientOptions {
  readonly target: string;
  readonly proof: IdentityProof;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly nodeId: string;
  readonly credentials: Credentials;
  readonly log: Logger;
  readonly backoff: BackoffOptions;
  readonly random?: () => number;
}

type CaClient = grpc.Client & {
  certify(
    request: CertifyRequest,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: CertifyResponse) => void,
  ): grpc.ClientUnaryCall;
};

const CaClientConstructor = grpc.makeGenericClientConstructor(
  toGrpcServiceDefinition(CertificateAuthorityService),
  'CertificateAuthorityService',
);
const REQUEST_TIMEOUT_MS = 10_000;

export class IdentityClient {
  readonly #options: IdentityClientOptions;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #random: () => number;
  /** TLS with server authentication only: for the first certificate, with the token. */
  readonly #bootstrap: CaClient;
  /** mTLS with the current certificate: for renewals. */
  readonly #mutual: CaClient;
  #state: IdentityState = 'requesting';
  #timer: NodeJS.Timeout | undefined;
  #renewAt: number | undefined;
  #lastError: string | undefined;
  #inFlight = false;
  #useToken = true;
  readonly #first: Promise<void>;
  #resolveFirst: () => void = () => {};

  constructor(options: IdentityClientOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'identity' });
    this.#backoff = new Backoff(options.backoff);
    this.#random = options.random ?? Math.random;
    const channelOptions = {
      ...CONTROL_PLANE_CHANNEL_OPTIONS,
      'grpc.initial_reconnect_backoff_ms': options.backoff.baseMs,
      'grpc.max_reconnect_backoff_ms': options.backoff.maxMs,
    };
    const { credentials, trustDomain, target } = options;
    this.#bootstrap = new CaClientConstructor(
      target,
      controlPlaneCredentials(credentials, trustDomain, false),
      channelOptions,
    ) as unknown as CaClient;
    this.#mutual = new CaClientConstructor(
      target,
      controlPlaneCredentials(credentials, trustDomain, true),
      channelOptions,
    ) as unknown as CaClient;
    this.#first = new Promise((resolve) => {
      this.#resolveFirst = resolve;
    });
  }

  get state(): IdentityState {
    return this.#state;
  }

  /** Resolves once the first certificate is installed. */
  get firstCertificate(): Promise<void> {
    return this.#first;
  }

  status(): { state: IdentityState; renewAt: string | null; lastError: string | null } {
    return {
      state: this.#state,
      renewAt: this.#renewAt === undefined ? null : new Date(this.#renewAt).toISOString(),
      lastError: this.#lastError ?? null,
    };
  }

  start(): void {
    this.#log.info({ spiffeId: this.#options.spiffeId, controlPlane: this.#options.target }, 'requesting a certificate');
    this.#request();
  }

  /** A trust bundle from the discovery stream: trust it, and renew soon when the CA now
   * signs with another certificate than the one that issued ours. */
  onTrust(update: TrustUpdate): void {
    const { credentials } = this.#options;
    credentials.setBundle(update.bundle);
    const leaf = credentials.leaf;
    if (!leaf || this.#state === 'closed') return;
    const issuedBySigner = update.signer ? leaf.checkIssued(update.signer) && leaf.verify(update.signer.publicKey) : true;
    const anchored = verifyChain(credentials.chain, update.bundle).ok;
    if (issuedBySigner && anchored) return;
    const remaining = Math.max(0, (credentials.notAfter ?? 0) - Date.now());
    const delay = Math.round(this.#random() * Math.min(2000, remaining / 10));
    this.#log.info({ signer: update.signer?.subject?.replace(/\n/g, ', '), renewInMs: delay }, 'CA changed; renewing the certificate');
    this.#schedule(delay);
  }

  close(): void {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#bootstrap.close();
    this.#mutual.close();
  }

  #schedule(delayMs: number): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#timer);
    this.#renewAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => this.#request(), delayMs);
  }

  #request(): void {
    if (this.#state === 'closed' || this.#inFlight) return;
    const { credentials, spiffeId, nodeId, proof } = this.#options;
    const hasValidCertificate = (credentials.notAfter ?? 0) > Date.now() + 1000;
    const viaToken = proof.kind === 'service-account-token' || this.#useToken || !hasValidCertificate;
    let token = '';
    let serviceAccountToken = '';
    if (viaToken && proof.kind === 'join-token') token = proof.token;
    if (viaToken && proof.kind === 'service-account-token') {
      const read = readServiceAccountTokenFile(proof.file);
      if (!read.ok) {
        this.#failed(read.error);
        return;
      }
      serviceAccountToken = read.value.token;
    }
    this.#inFlight = true;
    const key = generateWorkloadKey();
    const request = create(CertifyRequestSchema, { csr: createCsr(key, spiffeId), token, serviceAccountToken, nodeId });
    const client = viaToken ? this.#bootstrap : this.#mutual;
    client.certify(request, { deadline: Date.now() + REQUEST_TIMEOUT_MS }, (error, response) => {
      this.#inFlight = false;
      if (this.#state === 'closed') return;
      if (error || !response) {
        // The CA does not know this certificate (say, a new root it has not been told of):
        // prove the identity with the token next time.
        if (error?.code === grpc.status.UNAUTHENTICATED && !viaToken) this.#useToken = true;
        this.#failed(error ? `${grpc.status[error.code] ?? error.code}: ${error.details}` : 'empty response');
        return;
      }
      const installed = this.#install(key, response);
      if (installed !== undefined) this.#failed(installed);
    });
  }

  /** Checks and installs a response; returns what is wrong with it, if anything. */
  #install(key: KeyObject, response: CertifyResponse): string | undefined {
    const { credentials, spiffeId } = this.#options;
    let chain: X509Certificate[];
    try {
      chain = response.certificateChain.map((der) => new X509Certificate(der));
    } catch (error) {
      return `the CA answered with an unreadable certificate: ${(error as Error).message}`;
    }
    let bundle = credentials.bundle;
    if (response.trustRoots.length > 0) {
      const parsed = TrustBundle.fromDer(response.trustRoots, 'the CA response');
      if (!parsed.ok) return parsed.error;
      bundle = parsed.bundle;
    }
    const verified = verifyChain(chain, bundle, { id: spiffeId });
    if (!verified.ok) return `the CA answered with a certificate that does not verify: ${verified.error.message}`;
    const ours = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (!(chain[0] as X509Certificate).publicKey.export({ type: 'spki', format: 'der' }).equals(ours)) {
      return 'the CA answered with a certificate for another key';
    }
    const renewal = credentials.leaf !== undefined;
    credentials.setBundle(bundle);
    credentials.setCertificate(key, response.certificateChain);
    this.#useToken = false;
    this.#backoff.reset();
    this.#lastError = undefined;
    this.#state = 'ready';
    const notAfter = credentials.notAfter as number;
    const remaining = notAfter - Date.now();
    const delay = Math.max(500, Math.round(remaining * (0.4 + 0.2 * this.#random())));
    this.#schedule(delay);
    this.#log.info(
      {
        spiffeId,
        serial: chain[0]?.serialNumber,
        notAfter: new Date(notAfter).toISOString(),
        renewAt: new Date(this.#renewAt as number).toISOString(),
      },
      renewal ? 'certificate renewed' : 'certificate issued',
    );
    this.#resolveFirst();
    return undefined;
  }

  #failed(reason: string): void {
    const { credentials } = this.#options;
    const notAfter = credentials.notAfter;
    const expired = notAfter !== undefined && notAfter <= Date.now();
    if (notAfter !== undefined) {
      if (expired && this.#state !== 'expired') {
        this.#log.error(
          { notAfter: new Date(notAfter).toISOString() },
          'certificate expired; peers refuse this sidecar until it gets a new one',
        );
      }
      this.#state = expired ? 'expired' : 'renewing';
    }
    this.#lastError = reason;
    const delay = this.#backoff.next();
    this.#log.warn(
      { error: reason, retryInMs: delay, expiresInMs: notAfter === undefined ? null : notAfter - Date.now() },
      'certificate request failed; retrying',
    );
    this.#schedule(delay);
  }
}
