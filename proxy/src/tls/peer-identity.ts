// The authenticated identity of the peer on an inbound connection: its SPIFFE ID when it
// came over mTLS, none for plaintext (permissive mode). Recorded once per connection at the
// handshake and read per request (authorization, the x-weft-peer-identity header, telemetry).
import type { Socket } from 'node:net';

const PEER = Symbol('weft.peerIdentity');

type Tagged = Socket & { [PEER]?: string };

export function setPeerIdentity(socket: Socket, spiffeId: string): void {
  (socket as Tagged)[PEER] = spiffeId;
}

/** The SPIFFE ID, or undefined for a plaintext peer. */
export function peerIdentityOf(socket: Socket): string | undefined {
  return (socket as Tagged)[PEER];
}
