// The outbound side of sidecar-to-sidecar mTLS: the connector of an HTTP/1.1 pool
// (http1/client-pool.ts) that opens a TLS 1.3 connection with this workload's current
// certificate (so a rotation applies to the next connection, while pooled ones carry on)
// and accepts the server only when its SPIFFE ID is the one the control plane announced for
// that endpoint. Chain verification against the trust bundle is OpenSSL's, through the
// shared secure context. Also the plain connector, for upstreams without an identity.
import { connect as netConnect, type Socket } from 'node:net';
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type Credentials, spiffeIdOfSan } from '@weft/certs';
import type { Connector } from '../http1/client-pool.ts';

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

/** mTLS to `host`:`port`, whose certificate must carry `expectedIdentity`. */
export function mtlsConnector(credentials: Credentials, expectedIdentity: string, address: string, timeoutMs: number): Connector {
  const { host, port } = splitAddress(address);
  const checkServerIdentity = (_host: string, cert: PeerCertificate) => checkPeer(expectedIdentity, cert);
  return (callback) => {
    const secureContext = credentials.secureContext;
    if (!secureContext) {
      callback(new NoCertificate('this sidecar has no certificate yet'), null);
      return;
    }
    const socket: TLSSocket = tlsConnect({
      host,
      port,
      secureContext,
      ALPNProtocols: ALPN_PROTOCOLS,
      minVersion: 'TLSv1.3',
      checkServerIdentity,
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    settleConnect(socket, 'secureConnect', `TLS connection to ${address}`, timeoutMs, callback);
  };
}

/** Plain TCP (the local app, mtls: disabled services, destinations outside the mesh). */
export function plainConnector(address: string, timeoutMs: number): Connector {
  const { host, port } = splitAddress(address);
  return (callback) => {
    const socket = netConnect({ host, port, noDelay: true });
    settleConnect(socket, 'connect', `connection to ${address}`, timeoutMs, callback);
  };
}

/** host:port or [v6]:port. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

function settleConnect(
  socket: Socket,
  ready: 'connect' | 'secureConnect',
  what: string,
  timeoutMs: number,
  callback: Parameters<Connector>[0],
): void {
  let settled = false;
  const timer = setTimeout(() => {
    settled = true;
    socket.destroy();
    callback(new ConnectTimeout(`${what} not established within ${timeoutMs} ms`), null);
  }, timeoutMs);
  socket.once(ready, () => {
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
}
