// The HTTP/1.1 side of a listener: the connections handed to it (by the outbound listener
// after protocol detection, by the inbound TLS listener after the handshake), their timers,
// and shutdown. It owns no socket of its own: listening and protocol detection belong to
// the listeners. One sweep walks the connections a few times per headers timeout, so no
// connection and no request carries a timer of its own.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from './limits.ts';
import { type ConnectionHost, Http1ServerConnection, type RequestHandler, type UpgradeHandler } from './server-connection.ts';

export interface Http1ServerOptions {
  readonly limits?: Http1Limits | undefined;
  readonly log: Logger;
  readonly onRequest: RequestHandler;
  readonly onUpgrade?: UpgradeHandler;
}

export class Http1Server implements ConnectionHost {
  readonly limits: Http1Limits;
  readonly log: Logger;
  readonly onRequest: RequestHandler;
  readonly onUpgrade: UpgradeHandler | undefined;
  closing = false;
  readonly #connections = new Set<Http1ServerConnection>();
  #sweeper: NodeJS.Timeout | undefined;
  readonly #sweepMs: number;

  constructor(options: Http1ServerOptions) {
    this.limits = options.limits ?? DEFAULT_HTTP1_LIMITS;
    this.log = options.log;
    this.onRequest = options.onRequest;
    this.onUpgrade = options.onUpgrade;
    const { headersTimeoutMs, idleTimeoutMs, streamIdleTimeoutMs } = this.limits;
    const shortest = Math.min(headersTimeoutMs, idleTimeoutMs, streamIdleTimeoutMs > 0 ? streamIdleTimeoutMs : Number.POSITIVE_INFINITY);
    this.#sweepMs = Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** Serves `socket`; `seen`: bytes already read from it (by a protocol detector). */
  accept(socket: Socket, seen?: Buffer): void {
    const connection = new Http1ServerConnection(this, socket);
    this.#connections.add(connection);
    this.#sweeper ??= setInterval(() => this.#sweep(), this.#sweepMs).unref();
    connection.serve(seen);
  }

  forget(connection: Http1ServerConnection): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** Shutdown, first step: connections with nothing in flight close now, the others after
   * their current response (which says `connection: close`). */
  closeIdleConnections(): void {
    this.closing = true;
    for (const connection of this.#connections) if (connection.idle) connection.destroy();
  }

  /** Shutdown, last step: every connection is cut. */
  closeAllConnections(): void {
    this.closing = true;
    for (const connection of this.#connections) connection.destroy();
  }

  #sweep(): void {
    const now = performance.now();
    for (const connection of this.#connections) connection.checkTimers(now);
  }
}
