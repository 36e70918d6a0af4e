// The CA's gRPC service (weft.identity.v1.CertificateAuthorityService/Certify): decides
// which identity a caller has proven, checks the CSR against it, and issues. A caller
// proves an identity with a join token (first certificate), a Kubernetes service-account
// token (every certificate of a pod), or its current client certificate over mTLS
// (renewals). Refusals are typed, logged and name the reason.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { formatSpiffeId, parseCsr, parseSpiffeId, trustDomainOf, type WorkloadIdentity } from '@weft/certs';
import {
  CertificateAuthorityService,
  type CertifyRequest,
  type CertifyResponse,
  CertifyResponseSchema,
  toGrpcServiceDefinition,
} from '@weft/proto';
import type { Logger } from 'pino';
import type { CaSource } from './ca-source.ts';
import { type AuthenticatedCall, peerWorkload } from './peer-identity.ts';
import type { ServiceAccountTokenVerifier } from './service-account-token.ts';
import type { TokenStore } from './token-store.ts';

export interface IssuedRecord {
  readonly spiffeId: string;
  readonly serial: string;
  readonly notAfter: string;
  readonly issuer: string;
  readonly via: 'token' | 'service-account-token' | 'mtls';
  /** The pod a service-account token was bound to. */
  readonly pod?: string;
  readonly at: string;
}

export type CertifyResult =
  | { ok: true; response: CertifyResponse; record: IssuedRecord }
  | { ok: false; code: grpc.status; message: string };

export interface CaServiceOptions {
  readonly source: CaSource;
  readonly tokens: TokenStore;
  /** Kubernetes service-account tokens are accepted only when this is set. */
  readonly serviceAccountTokens?: ServiceAccountTokenVerifier | undefined;
  readonly certTtlMs: number;
  readonly log: Logger;
}

export class CaService {
  readonly #options: CaServiceOptions;
  readonly #log: Logger;
  /** Last certificate issued per node id, for `weft status`; informational only. */
  readonly #issued = new Map<string, IssuedRecord>();

  constructor(options: CaServiceOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'ca' });
  }

  register(server: grpc.Server): void {
    server.addService(toGrpcServiceDefinition(CertificateAuthorityService), {
      certify: (call: grpc.ServerUnaryCall<CertifyRequest, CertifyResponse>, callback: grpc.sendUnaryData<CertifyResponse>) => {
        this.certify(call.request, call).then(
          (result) => {
            if (result.ok) {
              if (call.request.nodeId) this.#issued.set(call.request.nodeId.slice(0, 253), result.record);
              callback(null, result.response);
            } else {
              this.#log.warn(
                { peer: call.getPeer(), node: call.request.nodeId.slice(0, 253), error: result.message },
                'certificate refused',
              );
              callback({ code: result.code, details: result.message });
            }
          },
          (error: unknown) => {
            this.#log.error({ err: error }, 'certificate issuance failed');
            callback({ code: grpc.status.INTERNAL, details: 'the CA could not sign the certificate' });
          },
        );
      },
    });
  }

  issuedTo(nodeId: string): IssuedRecord | undefined {
    return this.#issued.get(nodeId);
  }

  /** Signing runs on the threadpool, so a burst of requests does not stall discovery. */
  async certify(request: CertifyRequest, call: AuthenticatedCall): Promise<CertifyResult> {
    const { source, tokens, certTtlMs } = this.#options;
    const trustDomain = source.trustDomain;

    let identity: WorkloadIdentity;
    let via: IssuedRecord['via'];
    let tokenId: string | undefined;
    let pod: { name: string; uid: string } | undefined;
    if (request.token && request.serviceAccountToken) {
      return { ok: false, code: grpc.status.INVALID_ARGUMENT, message: 'send a join token or a service-account token, not both' };
    }
    if (request.serviceAccountToken) {
      const verifier = this.#options.serviceAccountTokens;
      if (!verifier) {
        return {
          ok: false,
          code: grpc.status.UNAUTHENTICATED,
          message:
            'this control plane does not accept Kubernetes service-account tokens; start it with --k8s-issuer and --k8s-jwks-url or --k8s-jwks-file',
        };
      }
      const verified = await verifier.verify(request.serviceAccountToken);
      if (!verified.ok) {
        return { ok: false, code: verified.unavailable ? grpc.status.UNAVAILABLE : grpc.status.UNAUTHENTICATED, message: verified.error };
      }
      const { claims } = verified;
      identity = { trustDomain, namespace: claims.namespace, serviceAccount: claims.serviceAccount };
      pod = claims.pod;
      via = 'service-account-token';
    } else if (request.token) {
      const checked = tokens.check(request.token);
      if (!checked.ok) return { ok: false, code: grpc.status.UNAUTHENTICATED, message: checked.error };
      identity = checked.identity;
      tokenId = checked.id;
      via = 'token';
    } else {
      const peer = peerWorkload(call, trustDomain);
      if (!peer.ok) {
        return {
          ok: false,
          code: grpc.status.UNAUTHENTICATED,
          message: `a join token or service-account token is required for the first certificate (--token, --token-file); renewal over mTLS failed: ${peer.error}`,
        };
      }
      identity = peer.identity;
      via = 'mtls';
    }
    const proven = formatSpiffeId(identity);

    const parsed = parseCsr(request.csr);
    if (!parsed.ok) return { ok: false, code: grpc.status.INVALID_ARGUMENT, message: parsed.error };
    const { uris, publicKey } = parsed.csr;
    if (uris.length !== 1) {
      return {
        ok: false,
        code: grpc.status.INVALID_ARGUMENT,
        message: `csr: asks for ${uris.length} URI SANs; it must ask for exactly one SPIFFE ID`,
      };
    }
    const requested = uris[0] as string;
    const requestedDomain = trustDomainOf(requested);
    if (requestedDomain !== trustDomain) {
      return {
        ok: false,
        code: grpc.status.PERMISSION_DENIED,
        message: `csr: asks for ${requested} in trust domain ${requestedDomain ?? '(none)'}; this CA issues for trust domain ${trustDomain}`,
      };
    }
    if (!parseSpiffeId(requested).ok) {
      return { ok: false, code: grpc.status.PERMISSION_DENIED, message: `csr: ${requested} is not a workload identity` };
    }
    if (requested !== proven) {
      const proof =
        via === 'token'
          ? `token ${tokenId} is bound to ${proven}`
          : via === 'service-account-token'
            ? `the service-account token is for ${proven} (pod ${identity.namespace}/${pod?.name})`
            : `the client certificate is ${proven}`;
      return { ok: false, code: grpc.status.PERMISSION_DENIED, message: `csr: asks for ${requested}, but ${proof}` };
    }

    const { ca, bundle } = source.state;
    const issued = await ca.issueAsync({ publicKey, spiffeId: requested, ttlMs: certTtlMs });
    const record: IssuedRecord = {
      spiffeId: requested,
      serial: issued.serial,
      notAfter: issued.notAfter.toISOString(),
      issuer: (ca.certificate.subject ?? '').replace(/\n/g, ', '),
      via,
      ...(pod ? { pod: `${identity.namespace}/${pod.name}` } : {}),
      at: new Date().toISOString(),
    };
    this.#log.info(
      {
        spiffeId: requested,
        serial: issued.serial,
        notAfter: record.notAfter,
        node: request.nodeId,
        via,
        tokenId,
        pod: record.pod,
        podUid: pod?.uid,
      },
      'certificate issued',
    );
    return {
      ok: true,
      record,
      response: create(CertifyResponseSchema, {
        certificateChain: issued.chain.map((der) => new Uint8Array(der)),
        trustRoots: bundle.roots.map((root) => new Uint8Array(root.raw)),
      }),
    };
  }
}
