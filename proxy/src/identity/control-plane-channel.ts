// gRPC channel credentials for talking to the control plane: TLS verified against the
// current trust bundle, accepting only the control plane's SPIFFE ID, and (for the mTLS
// variant) presenting this workload's current certificate. Both follow rotations for new
// connections, through the certificate provider over Credentials.
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { type Credentials, certificateProvider, controlPlaneSpiffeId, spiffeIdOfSan } from '@weft/certs';

/** grpc-js would send the target IP as TLS server name, which Node warns about; the name
 * is not what we check anyway (the SPIFFE ID is). */
export const CONTROL_PLANE_CHANNEL_OPTIONS = { 'grpc.ssl_target_name_override': 'control-plane.weft' } as const;

export function controlPlaneCredentials(credentials: Credentials, trustDomain: string, mutual: boolean): grpc.ChannelCredentials {
  const expected = controlPlaneSpiffeId(trustDomain);
  const provider = certificateProvider(credentials);
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, mutual ? provider : null, {
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const id = spiffeIdOfSan(cert.subjectaltname);
      if (id.ok && id.spiffeId === expected) return undefined;
      return new Error(`the server is ${id.ok ? id.spiffeId : 'not a SPIFFE identity'}, not the control plane (${expected})`);
    },
  });
}
