// Keep-alive HTTP/1.1 connections to one upstream address: idle ones are reused last-in
// first-out (the warmest first), new ones are opened on demand up to `maxConnections`, and
// beyond that requests wait in order. Connections idle longer than the keep-alive timeout
// (or than the upstream's own Keep-Alive hint) are closed by one sweep shared by every
// pool, so an idle connection carries no timer. The pool decides nothing about requests:
// retries, timeouts and load balancing happen above it.
import type { Socket } from 'node:net';
import { NOT_STARTED, type UpstreamDispatcher, type UpstreamHandler, type UpstreamRequest } from '../http/upstream-exchange.ts';
import { type ConnectionPool, Http1ClientConnection } from './client-connection.ts';
import { headerLines } from './message-head.ts';

/** Opens a connection: calls back with the socket once it can carry requests (TLS
 * established and the peer's identity checked), or with why it could not. */
export type Connector = (callback: (error: Error | null, socket: Socket | null) => void) => void;

export interface Http1PoolOptions {
  readonly connect: Connector;
  /** Idle time after which a pooled connection is closed. */
  readonly keepAliveTimeoutMs: number;
  /** Connections at most; further requests wait. 0: no cap. */
  readonly maxConnections?: number;
  /** A connection is closed after this many requests. 0: no cap. */
  readonly maxRequestsPerConnection?: number;
  /** Largest response head accepted. */
  readonly maxHeaderBytes?: number;
  /** Open connections changed by `delta` (the upstream's connection count). */
  readonly onConnections?: (delta: number) => void;
  /** Fields [name, value, ...] each connection sends once, with its first request: what
   * holds for the whole connection (to a peer sidecar: who is calling, x-weft-source). */
  readonly connectionHeaders?: readonly string[];
}

interface Waiting {
  readonly request: UpstreamRequest;
  readonly handler: UpstreamHandler;
}

const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

export class Http1Pool implements UpstreamDispatcher, ConnectionPool {
  readonly #options: Http1PoolOptions;
  readonly #idle: Http1ClientConnection[] = [];
  readonly #open = new Set<Http1ClientConnection>();
  #connecting = 0;
  #waiting: Waiting[] = [];
  #closed = false;
  #onEmpty: (() => void) | undefined;
  /** The connection headers as header lines, rendered once for every connection. */
  readonly #introduction: string;

  constructor(options: Http1PoolOptions) {
    this.#options = options;
    this.#introduction = headerLines(options.connectionHeaders ?? []);
  }

  /** Open connections, busy or idle. */
  get size(): number {
    return this.#open.size;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closed) {
      handler.onResponseError(NOT_STARTED, new PoolClosed('upstream pool closed'));
      return;
    }
    // An Upgrade takes its connection for good: a fresh one, never a pooled one.
    if (request.upgrade !== true) {
      const connection = this.#idle.pop();
      if (connection !== undefined) {
        connection.send(request, handler);
        return;
      }
    }
    this.#waiting.push({ request, handler });
    const max = this.#options.maxConnections ?? 0;
    if (max === 0 || this.#open.size + this.#connecting < max || request.upgrade === true) this.#connect();
  }

  /** A waiting request's owner gave up on it before it got a connection. */
  cancel(handler: UpstreamHandler): boolean {
    const i = this.#waiting.findIndex((w) => w.handler === handler);
    if (i < 0) return false;
    this.#waiting.splice(i, 1);
    return true;
  }

  /** Closes idle connections now and the others once their exchange ends. */
  close(): Promise<void> {
    this.#closed = true;
    for (const connection of this.#idle) connection.destroy();
    this.#idle.length = 0;
    if (this.#open.size === 0 && this.#connecting === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onEmpty = resolve;
    });
  }

  /** Cuts every connection (exchanges on them fail). */
  destroy(): void {
    this.#closed = true;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w.handler.onResponseError(NOT_STARTED, new PoolClosed('upstream pool closed'));
    for (const connection of [...this.#open]) connection.destroy();
  }

  // --- ConnectionPool ---

  release(connection: Http1ClientConnection): void {
    const max = this.#options.maxRequestsPerConnection ?? 0;
    if (max > 0 && connection.requests >= max) {
      connection.destroy();
      return;
    }
    const next = this.#takeWaiting();
    if (next !== undefined) {
      connection.send(next.request, next.handler);
      return;
    }
    if (this.#closed) {
      connection.destroy();
      return;
    }
    // A pool is in idlePools whenever it has idle connections (the sweep takes it out).
    if (this.#idle.push(connection) === 1) idlePools.add(this);
  }

  closed(connection: Http1ClientConnection): void {
    if (!this.#open.delete(connection)) return;
    const i = this.#idle.indexOf(connection);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#options.onConnections?.(-1);
    // Requests still waiting need a connection of their own now.
    if (this.#waiting.length > 0 && !this.#closed) this.#connect();
    this.#checkEmpty();
  }

  /** The keep-alive sweep: closes connections idle too long. */
  sweep(now: number): void {
    const limit = this.#options.keepAliveTimeoutMs;
    const idle = this.#idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const connection = idle[i] as Http1ClientConnection;
      const max = connection.idleLimitMs >= 0 ? Math.min(limit, connection.idleLimitMs) : limit;
      if (now - connection.idleSince >= max) {
        idle.splice(i, 1);
        connection.destroy();
      }
    }
    if (idle.length === 0) idlePools.delete(this);
  }

  // --- internals ---

  #takeWaiting(): Waiting | undefined {
    if (this.#waiting.length === 0) return undefined;
    // An Upgrade waits for its own connection (#connect), not for a pooled one.
    const i = this.#waiting.findIndex((w) => w.request.upgrade !== true);
    if (i < 0) return undefined;
    return this.#waiting.splice(i, 1)[0];
  }

  #connect(): void {
    this.#connecting += 1;
    this.#options.connect((error, socket) => {
      this.#connecting -= 1;
      if (error !== null || socket === null) {
        // The oldest waiting request learns why; others wait for connections of their own.
        const failed = this.#waiting.shift();
        failed?.handler.onResponseError(NOT_STARTED, error ?? new Error('connect failed'));
        this.#checkEmpty();
        return;
      }
      if (this.#closed && this.#waiting.length === 0) {
        socket.destroy();
        this.#checkEmpty();
        return;
      }
      const connection = new Http1ClientConnection(
        this,
        socket,
        this.#options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
        this.#introduction,
      );
      if (connection.state === 'closed') {
        const failed = this.#waiting.shift();
        failed?.handler.onResponseError(NOT_STARTED, new Error('connection closed at once'));
        return;
      }
      this.#open.add(connection);
      this.#options.onConnections?.(1);
      // An Upgrade that asked for this connection takes it first.
      const upgrade = this.#waiting.findIndex((w) => w.request.upgrade === true);
      const next = upgrade >= 0 ? this.#waiting.splice(upgrade, 1)[0] : this.#waiting.shift();
      if (next !== undefined) connection.send(next.request, next.handler);
      else this.release(connection);
    });
  }

  #checkEmpty(): void {
    if (!this.#closed || this.#open.size > 0 || this.#connecting > 0) return;
    const done = this.#onEmpty;
    this.#onEmpty = undefined;
    done?.();
  }
}

export class PoolClosed extends Error {
  override readonly name = 'PoolClosed';
  readonly code = 'UND_ERR_CLOSED';
}

// One sweep for every pool with idle connections.
const idlePools = new Set<Http1Pool>();
const SWEEP_MS = 1000;
setInterval(() => {
  if (idlePools.size === 0) return;
  const now = performance.now();
  for (const pool of idlePools) pool.sweep(now);
}, SWEEP_MS).unref();
