// One Certify call to a control plane, for benchmark clients that need a mesh certificate.
import { readFileSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { CertificateAuthorityService, CertifyRequestSchema, type CertifyResponse, toGrpcServiceDefinition } from '@weft/proto';
import type { ControlPlane } from './mesh.ts';

const CaClient = grpc.makeGenericClientConstructor(toGrpcServiceDefinition(CertificateAuthorityService), 'CertificateAuthorityService');

export function certify(cp: ControlPlane, csr: Uint8Array, token: string): Promise<Uint8Array[]> {
  const credentials = grpc.credentials.createSsl(readFileSync(cp.trustBundle), null, null, { checkServerIdentity: () => undefined });
  const client = new CaClient(cp.xds, credentials, { 'grpc.ssl_target_name_override': 'control-plane.weft' }) as unknown as grpc.Client & {
    certify(r: unknown, cb: (e: grpc.ServiceError | null, r?: CertifyResponse) => void): void;
  };
  return new Promise((resolve, reject) => {
    client.certify(create(CertifyRequestSchema, { csr, token }), (error, response) => {
      client.close();
      if (error || !response) reject(error ?? new Error('no response'));
      else resolve(response.certificateChain);
    });
  });
}
