// The outbound side of sidecar-to-sidecar mTLS: an undici `connect` function that opens a
// TLS 1.3 connection with this workload's current certificate (so a rotation applies to
// the next connection, while pooled ones carry on) and accepts the server only when its
// SPIFFE ID is the one the control plane announced for that endpoint. Chain verification
// against the trust bundle is OpenSSL's, through the shared secure context.
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type Credentials, spiffeIdOfSan } from '@weft/certs';
import type { buildConnector } from 'undici';

export const ALPN_PROTOCOLS = ['http/1.1'];

/** Same code as Node's own hostname mismatch, so callers classify it as a connect failure. */
export class PeerIdentityError extends Error {
  override readonly name = 'PeerIdentityError';
  readonly code = 'ERR_TLS_CERT_ALTNAME_INVALID';
}

export class ConnectTimeout extends Error {
  override readonly name = 'ConnectTimeoutError';
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
}

export class NoCertificate extends Error {
  override readonly name = 'NoCertificateError';
  readonly code = 'ERR_WEFT_NO_CERTIFICATE';
}

/** Compares the server's SPIFFE ID with the expected one; the Error names both. */
export function checkPeer(expected: string, cert: PeerCertificate): Error | undefined {
  const id = spiffeIdOfSan(cert.subjectaltname);
  if (!id.ok) return new PeerIdentityError(`server certificate: ${id.error.message}; expected ${expected}`);
  if (id.spiffeId !== expected) return new PeerIdentityError(`server is ${id.spiffeId}, expected ${expected}`);
  return undefined;
}

export function mtlsConnector(credentials: Credentials, expectedIdentity: string, timeoutMs: number): buildConnector.connector {
  const checkServerIdentity = (_host: string, cert: PeerCertificate) => checkPeer(expectedIdentity, cert);
  return (options, callback) => {
    const secureContext = credentials.secureContext;
    if (!secureContext) {
      callback(new NoCertificate('this sidecar has no certificate yet'), null);
      return;
    }
    const socket: TLSSocket = tlsConnect({
      host: options.hostname,
      port: Number(options.port),
      secureContext,
      ALPNProtocols: ALPN_PROTOCOLS,
      minVersion: 'TLSv1.3',
      checkServerIdentity,
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      socket.destroy();
      callback(new ConnectTimeout(`TLS connection to ${options.hostname}:${options.port} not established within ${timeoutMs} ms`), null);
    }, timeoutMs);
    socket.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback(null, socket);
    });
    socket.once('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback(error, null);
    });
  };
}
