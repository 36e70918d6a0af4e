// The TLS connection of an HTTP/2 session to a peer sidecar: as client-tls.ts (TLS 1.3,
// this workload's current certificate, the server's SPIFFE ID checked), offering only ALPN
// h2, so a peer that cannot speak HTTP/2 fails the handshake instead of being misread.
// Connect timeouts belong to the session (upstream/h2-sessions.ts).
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Credentials } from '@weft/certs';
import { checkPeer, NoCertificate, splitAddress } from './client-tls.ts';

export const H2_ALPN = 'h2';

/** A function that opens the connection to `address` (host:port, [v6]:port); it throws
 * NoCertificate while this workload has no certificate. */
export function mtlsH2Connection(credentials: Credentials, expectedIdentity: string, address: string): () => TLSSocket {
  const { host, port } = splitAddress(address);
  const checkServerIdentity = (_host: string, cert: PeerCertificate) => checkPeer(expectedIdentity, cert);
  return () => {
    const secureContext = credentials.secureContext;
    if (!secureContext) throw new NoCertificate('this sidecar has no certificate yet');
    const socket = tlsConnect({ host, port, secureContext, ALPNProtocols: [H2_ALPN], minVersion: 'TLSv1.3', checkServerIdentity });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}
