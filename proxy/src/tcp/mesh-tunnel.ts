// The sidecar-to-sidecar hop of opaque TCP: a mutual TLS 1.3 connection to an endpoint's
// inbound port that offers only the `weft-tcp` ALPN id, so the other side hands the bytes to
// its app's port instead of its HTTP server. The server must prove the endpoint's SPIFFE ID,
// as for HTTP (tls/client-tls.ts). No preamble: the destination sidecar has one app port.
import { connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Credentials } from '@weft/certs';
import { checkPeer, splitAddress } from '../tls/client-tls.ts';

/** ALPN id of opaque TCP on the mTLS hop. */
export const TCP_ALPN = 'weft-tcp';

export type TunnelResult =
  | { readonly ok: true; readonly socket: TLSSocket }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Opens the mTLS hop to `address` (host:port) proving `identity`; settles once, with the socket or why not. */
export function openMeshTunnel(
  credentials: Credentials,
  address: string,
  identity: string,
  timeoutMs: number,
  done: (result: TunnelResult) => void,
): void {
  const secureContext = credentials.secureContext;
  if (!secureContext) {
    done({ ok: false, code: 'ERR_WEFT_NO_CERTIFICATE', message: 'this sidecar has no certificate yet' });
    return;
  }
  if (!identity) {
    done({
      ok: false,
      code: 'ERR_WEFT_PLAINTEXT',
      message: `${address} has no mesh identity (mtls: disabled): opaque TCP needs mutual TLS`,
    });
    return;
  }
  const { host, port } = splitAddress(address);
  // Over a socket of our own, so a death on the far side can be passed on as a reset (splice.ts).
  const raw = netConnect({ host, port, noDelay: true });
  const socket = tlsConnect({
    socket: raw,
    secureContext,
    ALPNProtocols: [TCP_ALPN],
    minVersion: 'TLSv1.3',
    checkServerIdentity: (_host, cert) => checkPeer(identity, cert),
  });
  let settled = false;
  const timer = setTimeout(() => {
    settled = true;
    socket.destroy();
    done({ ok: false, code: 'ETIMEDOUT', message: `mTLS to ${address} not established within ${timeoutMs} ms` });
  }, timeoutMs);
  socket.once('secureConnect', () => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (socket.alpnProtocol !== TCP_ALPN) {
      socket.destroy();
      done({ ok: false, code: 'ERR_WEFT_ALPN', message: `${address} does not accept opaque TCP (no ${TCP_ALPN})` });
      return;
    }
    done({ ok: true, socket });
  });
  socket.once('error', (error: NodeJS.ErrnoException) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    done({ ok: false, code: error.code ?? 'ERROR', message: error.message });
  });
}
