// The authenticated identity of the peer on an inbound connection: its SPIFFE ID when it
// came over mTLS, none for plaintext (permissive mode). Recorded once per connection at the
// handshake and read per request (authorization, the x-weft-peer-identity header, telemetry).
import type { Socket } from 'node:net';

const PEER = Symbol('weft.peerIdentity');
/** Distinct peer identities kept as one string each; beyond this the table starts again. */
const MAX_IDENTITIES = 4096;

type Tagged = Socket & { [PEER]?: string };

/** Every connection from the same workload gets the same string object. Per request, the
 * identity is a Map key (telemetry's peer table) and compared with a metric series' label:
 * equal strings that are different objects are compared character by character, in V8's
 * runtime (the certificate's SAN is a slice of a longer string); the same object is one
 * pointer comparison. */
const identities = new Map<string, string>();

export function setPeerIdentity(socket: Socket, spiffeId: string): void {
  let canonical = identities.get(spiffeId);
  if (canonical === undefined) {
    if (identities.size >= MAX_IDENTITIES) identities.clear();
    // A flat copy: the SAN slice would keep the whole certificate text alive.
    canonical = Buffer.from(spiffeId, 'utf8').toString('utf8');
    identities.set(canonical, canonical);
  }
  (socket as Tagged)[PEER] = canonical;
}

/** The SPIFFE ID, or undefined for a plaintext peer. */
export function peerIdentityOf(socket: Socket): string | undefined {
  return (socket as Tagged)[PEER];
}
