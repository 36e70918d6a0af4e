// What a workload needs to join a control plane under mTLS: a join token for its service
// (from the admin API, as `weft token create` gets one), and, for the simulated sidecars
// that skip `weft proxy`, a certificate from the control plane's CA.
import { readFileSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { createCsr, generateWorkloadKey, toPem } from '@weft/certs';
import { CertificateAuthorityService, CertifyRequestSchema, type CertifyResponse, toGrpcServiceDefinition } from '@weft/proto';

/** A key and certificate chain a simulated sidecar presents on its discovery stream. */
export interface WorkloadCredentials {
  readonly keyPem: string;
  readonly chainPem: string;
}

export async function createToken(adminUrl: string, service: string, namespace = 'default'): Promise<string> {
  const response = await fetch(new URL('/api/tokens', adminUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service, namespace, ttl: '2h' }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { token?: string; error?: string };
  if (!response.ok || !body.token) throw new Error(`cannot create a token for ${service}: ${body.error ?? response.status}`);
  return body.token;
}

const CaClient = grpc.makeGenericClientConstructor(toGrpcServiceDefinition(CertificateAuthorityService), 'CertificateAuthorityService');

/** TLS to the control plane's gRPC port, verifying it against the trust bundle. */
export function controlPlaneCredentials(trustBundlePem: string, identity?: WorkloadCredentials): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    Buffer.from(trustBundlePem),
    identity ? Buffer.from(identity.keyPem) : null,
    identity ? Buffer.from(identity.chainPem) : null,
    // The chain is verified against the bundle; the control plane's certificate names a SPIFFE ID, not a host.
    { checkServerIdentity: () => undefined },
  );
}

export const CONTROL_PLANE_TARGET_OPTIONS = { 'grpc.ssl_target_name_override': 'control-plane.weft' };

/** A fresh key and the CA's certificate for `service` (default namespace). */
export async function issueCredentials(
  xds: string,
  adminUrl: string,
  trustBundlePath: string,
  service: string,
): Promise<WorkloadCredentials> {
  const token = await createToken(adminUrl, service);
  const key = generateWorkloadKey();
  const csr = createCsr(key, `spiffe://cluster.local/ns/default/sa/${service}`);
  const client = new CaClient(
    xds,
    controlPlaneCredentials(readFileSync(trustBundlePath, 'utf8')),
    CONTROL_PLANE_TARGET_OPTIONS,
  ) as unknown as grpc.Client & {
    certify(r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: CertifyResponse) => void): void;
  };
  try {
    const response = await new Promise<CertifyResponse>((resolve, reject) =>
      client.certify(
        create(CertifyRequestSchema, { csr, token, nodeId: `bench-${service}` }),
        { deadline: Date.now() + 20_000 },
        (error, r) => (error || !r ? reject(new Error(`Certify for ${service} failed: ${error?.details ?? 'no answer'}`)) : resolve(r)),
      ),
    );
    return {
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
      chainPem: response.certificateChain.map((c) => toPem('CERTIFICATE', c)).join(''),
    };
  } finally {
    client.close();
  }
}
