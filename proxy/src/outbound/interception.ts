// Transparent interception on the outbound listener. `weft init` has the kernel redirect the
// app's outbound TCP here; such a connection is told apart from one the app made to the
// listener on purpose by its original destination (SO_ORIGINAL_DST via @weft/original-dst).
// On a redirected connection, HTTP/1.x (or HTTP/2 prior knowledge) goes to the listener's HTTP server, which routes it
// by Host, then by that destination, else passes it on (passthrough.ts); any other protocol
// is piped unchanged to the destination. Opaque TCP to mesh services over mTLS is not done
// here: it needs the service known as tcp (tcp-listeners.ts, or CONNECT in outbound-tunnels.ts).
import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { addonState, type OriginalDestination, originalDestination } from '@weft/original-dst';
import type { Logger } from 'pino';
import type { UpstreamPools } from '../upstream/upstream-pools.ts';
import { detectHttp1 } from './detect-http.ts';
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

type HttpListener = (socket: Socket) => void;

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

  /**
   * Puts itself between `server`'s listening socket and its HTTP parser. node:http attaches
   * its parser as the server's 'connection' listener when the server is built, so that
   * listener is taken out and called for the sockets that are HTTP.
   */
  attach(server: Server): void {
    const lookup = this.#lookup;
    if (!lookup) return;
    const httpListeners = server.listeners('connection') as HttpListener[];
    server.removeAllListeners('connection');
    const toHttp = (socket: Socket) => {
      for (const listener of httpListeners) listener.call(server, socket);
    };
    server.on('connection', (socket: Socket) => {
      const destination = lookup(socket);
      if (!destination) return toHttp(socket);
      this.#destinations.set(socket, destination);
      this.#detect(socket, destination, toHttp);
    });
  }

  /** Ends piped connections and releases pass-through pools (shutdown, after the drain). */
  close(): void {
    for (const socket of this.#piped) socket.destroy();
    this.#piped.clear();
    this.passthrough.close();
  }

  /** Reads until the first bytes tell HTTP/1.x from anything else, then hands the socket on
   * with those bytes put back. */
  #detect(socket: Socket, destination: OriginalDestination, toHttp: HttpListener): void {
    let seen: Buffer | undefined;
    const decide = (http: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (seen) socket.unshift(seen);
      if (http) {
        toHttp(socket);
        socket.resume();
      } else {
        this.#pipe(socket, destination);
      }
    };
    const onData = (chunk: Buffer) => {
      seen = seen ? Buffer.concat([seen, chunk]) : chunk;
      const detected = detectHttp1(seen);
      if (detected !== 'more') decide(detected !== 'other');
    };
    // Closed before saying anything we could pass on whole: nothing to do.
    const onEnd = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(() => decide(false), this.#detectTimeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', () => {
      clearTimeout(timer);
      socket.destroy();
    });
  }

  /** Bytes both ways, unchanged, to where the app was connecting; half-close passes through
   * (pipe ends the other side's writable), and either side failing closes both. */
  #pipe(client: Socket, destination: OriginalDestination): void {
    const upstream = connect({ host: destination.address, port: destination.port, allowHalfOpen: true, noDelay: true });
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
