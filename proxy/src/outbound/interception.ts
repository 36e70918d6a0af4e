// Transparent interception on the outbound listener. `weft init` has the kernel redirect the
// app's outbound TCP here; such a connection is told apart from one the app made to the
// listener on purpose by its original destination (SO_ORIGINAL_DST via @weft/original-dst).
// On a redirected connection, HTTP/1.x (or HTTP/2 prior knowledge) goes to the listener's
// codecs, which route it by Host, then by that destination, else pass it on
// (passthrough.ts); any other protocol is piped unchanged to the destination
// (protocol-detection.ts tells them apart). Opaque TCP to mesh services over mTLS is not
// done here: it needs the service known as tcp (tcp-listeners.ts, or CONNECT in
// outbound-tunnels.ts).
import { connect, type Socket } from 'node:net';
import { addonState, type OriginalDestination, originalDestination } from '@weft/original-dst';
import type { Logger } from 'pino';
import type { UpstreamPools } from '../upstream/upstream-pools.ts';
import { PassthroughUpstreams } from './passthrough.ts';

/** Where a redirected socket was going; undefined for a connection made to us on purpose. */
export type DestinationLookup = (socket: Socket) => OriginalDestination | undefined;

export interface InterceptionOptions {
  readonly pools: UpstreamPools;
  readonly log: Logger;
  /** How original destinations are read: the addon by default, or why they cannot be.
   * Tests give their own. */
  readonly destinations?: { readonly lookup: DestinationLookup } | { readonly unavailable: string };
  /** A client silent this long after connecting is taken to wait for the server to speak
   * first (MySQL, SMTP): its bytes are piped on unchanged. */
  readonly detectTimeoutMs?: number;
}

const DETECT_TIMEOUT_MS = 1000;
/** Connect timeout towards a destination outside the mesh (Envoy's default). */
const CONNECT_TIMEOUT_MS = 10_000;

export class Interception {
  readonly passthrough: PassthroughUpstreams;
  readonly #lookup: DestinationLookup | undefined;
  readonly #log: Logger;
  readonly #detectTimeoutMs: number;
  readonly #destinations = new WeakMap<Socket, OriginalDestination>();
  /** Piped connections, so close() can end them: they are no HTTP server's to close. */
  readonly #piped = new Set<Socket>();

  constructor(options: InterceptionOptions) {
    this.#log = options.log.child({ component: 'interception' });
    this.#detectTimeoutMs = options.detectTimeoutMs ?? DETECT_TIMEOUT_MS;
    this.passthrough = new PassthroughUpstreams(options.pools);
    const source = options.destinations ?? (addonState.available ? { lookup: originalDestination } : { unavailable: addonState.reason });
    if ('lookup' in source) {
      this.#lookup = source.lookup;
    } else {
      this.#lookup = undefined;
      this.#log.warn(
        { reason: source.unavailable },
        'original destination unavailable: redirected connections are served as if sent to this listener (routed by Host only; non-HTTP traffic is refused)',
      );
    }
  }

  /** The destination of a redirected connection; undefined for one made to the listener on purpose. */
  destinationOf(socket: Socket): OriginalDestination | undefined {
    return this.#destinations.get(socket);
  }

  /** Reads where a newly accepted connection was going (and remembers it); undefined when it
   * was made to the listener on purpose, or destinations cannot be read here. */
  lookup(socket: Socket): OriginalDestination | undefined {
    const destination = this.#lookup?.(socket);
    if (destination) this.#destinations.set(socket, destination);
    return destination;
  }

  /** How long a redirected client may stay silent before it is taken to wait for the server
   * to speak first (its bytes are then piped). */
  get detectTimeoutMs(): number {
    return this.#detectTimeoutMs;
  }

  /** Ends piped connections and releases pass-through pools (shutdown, after the drain). */
  close(): void {
    for (const socket of this.#piped) socket.destroy();
    this.#piped.clear();
    this.passthrough.close();
  }

  /** Bytes both ways, unchanged, to where the app was connecting (`seen` first); half-close
   * passes through (pipe ends the other side's writable), and either side failing closes both. */
  pipe(client: Socket, destination: OriginalDestination, seen: Buffer | undefined): void {
    const upstream = connect({ host: destination.address, port: destination.port, allowHalfOpen: true, noDelay: true });
    if (seen !== undefined && seen.length > 0) upstream.write(seen);
    this.#piped.add(client);
    let closed = false;
    const close = (reason: string) => {
      if (closed) return;
      closed = true;
      this.#piped.delete(client);
      this.#log.debug({ destination: `${destination.address}:${destination.port}`, reason }, 'piped connection closed');
      client.destroy();
      upstream.destroy();
    };
    upstream.setTimeout(CONNECT_TIMEOUT_MS, () => close('connect timeout'));
    upstream.once('connect', () => upstream.setTimeout(0));
    upstream.once('error', (error: NodeJS.ErrnoException) => close(error.code ?? error.message));
    client.once('error', (error: NodeJS.ErrnoException) => close(error.code ?? error.message));
    upstream.once('close', () => close('destination closed'));
    client.once('close', () => close('client closed'));
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }
}
