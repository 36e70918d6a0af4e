// The workload identity of a gRPC caller, from the client certificate of its TLS
// connection. grpc-js reports a peer certificate only when the handshake verified it
// against the server's trust bundle, so what remains is the SPIFFE ID and its expiry (an
// HTTP/2 connection can outlive the certificate it was opened with).
import type { PeerCertificate } from 'node:tls';
import { parseSpiffeId, spiffeIdOfSan, type WorkloadIdentity } from '@weft/certs';

export type PeerWorkload = { ok: true; spiffeId: string; identity: WorkloadIdentity } | { ok: false; error: string };

/** What grpc-js server calls offer (its AuthContext type is not exported). */
export interface AuthenticatedCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

export function peerWorkload(call: AuthenticatedCall, trustDomain: string, now = Date.now()): PeerWorkload {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert) return { ok: false, error: 'no client certificate from this trust domain was presented' };
  if (Date.parse(cert.valid_to) <= now) return { ok: false, error: `the client certificate expired at ${cert.valid_to}` };
  const san = spiffeIdOfSan(cert.subjectaltname);
  if (!san.ok) return { ok: false, error: `client certificate: ${san.error.message}` };
  const parsed = parseSpiffeId(san.spiffeId);
  if (!parsed.ok) return { ok: false, error: `client certificate: ${parsed.error}` };
  if (parsed.identity.trustDomain !== trustDomain) {
    return { ok: false, error: `client certificate ${san.spiffeId} is not in trust domain ${trustDomain}` };
  }
  return { ok: true, spiffeId: parsed.id, identity: parsed.identity };
}
