// One HTTP/1.1 Upgrade (WebSocket and the like) sent to one upstream: the request goes out
// on a fresh connection of the upstream's pool; a 101 is relayed to the client as the
// upstream wrote it and the two connections are spliced (tcp/splice.ts); any other answer
// is returned as a normal response on that connection, which then closes. Routing,
// authorization and picking the upstream belong to the listener that calls this.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Http1Request } from '../http1/server-request.ts';
import type { Http1Response } from '../http1/server-response.ts';
import { responseOnSocket } from '../http1/socket-response.ts';
import { splice } from '../tcp/splice.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import { forwardResponseHeaders, rawHeader } from './headers.ts';
import { classifyUpstreamError, DOWNSTREAM_DISCONNECT, type ProxyError, RESPONSE_FLAG } from './proxy-error.ts';
import type { Outcome, OutcomeListener } from './request-outcome.ts';
import { sendProxyError, statusOf } from './synthetic-response.ts';
import { NOT_STARTED, type UpstreamController, type UpstreamHandler } from './upstream-exchange.ts';

/** An upgrade request as the listener received it, before any answer. */
export interface UpgradeRequest {
  readonly req: Http1Request;
  readonly socket: Socket;
  /** Bytes the client sent after its headers (the new protocol's first bytes). */
  readonly head: Buffer;
}

/** Idle time after which an upgraded connection is closed (Envoy's tcp_proxy default: 1 h). */
export const UPGRADED_IDLE_TIMEOUT_MS = 3_600_000;

/** Answers an upgrade the listener refuses itself (no route, forbidden…). */
export function refuseUpgrade(upgrade: UpgradeRequest, outcome: Outcome, error: ProxyError, onDone: OutcomeListener): void {
  outcome.flags = RESPONSE_FLAG[error.kind];
  outcome.status = statusOf(error);
  outcome.responseBytes = sendProxyError(responseOnSocket(upgrade.req, upgrade.socket), error);
  outcome.end(performance.now());
  onDone(outcome);
}

export function forwardUpgrade(
  upgrade: UpgradeRequest,
  upstream: Upstream,
  request: { readonly path: string; readonly headers: string[] },
  outcome: Outcome,
  onDone: OutcomeListener,
): void {
  const protocol = rawHeader(upgrade.req.rawHeaders, 'upgrade') ?? '';
  const handler = new UpgradeHandler(upgrade, upstream, outcome, onDone);
  outcome.attempts = 1;
  outcome.upstreamAddress = upstream.address;
  upstream.inflight += 1;
  // Connection and Upgrade are hop-by-hop: this hop asks for the switch again.
  const headers = [...request.headers, 'connection', 'upgrade', 'upgrade', protocol];
  upstream.pool.dispatch({ method: upgrade.req.method, path: request.path, headers, body: null, upgrade: true }, handler);
}

class UpgradeHandler implements UpstreamHandler {
  readonly #upgrade: UpgradeRequest;
  readonly #upstream: Upstream;
  readonly #outcome: Outcome;
  readonly #onDone: OutcomeListener;
  #res: Http1Response | undefined;
  #controller: UpstreamController | undefined;
  #settled = false;
  #done = false;

  constructor(upgrade: UpgradeRequest, upstream: Upstream, outcome: Outcome, onDone: OutcomeListener) {
    this.#upgrade = upgrade;
    this.#upstream = upstream;
    this.#outcome = outcome;
    this.#onDone = onDone;
    // The client may leave before the upstream answers.
    upgrade.socket.once('close', this.#onClientClose);
  }

  onRequestStart(controller: UpstreamController): void {
    this.#controller = controller;
  }

  onUpgrade(status: number, headers: readonly string[], socket: Duplex, head: Buffer): void {
    this.#settle();
    const client = this.#upgrade.socket;
    client.off('close', this.#onClientClose);
    if (client.destroyed) {
      socket.destroy();
      this.#finish();
      return;
    }
    const outcome = this.#outcome;
    outcome.status = status;
    outcome.upstreamMs = performance.now() - outcome.startMs;
    outcome.responseStartMs = outcome.upstreamMs;
    // The 101 as the upstream wrote it: its Upgrade, Connection and Sec-WebSocket-* headers
    // belong to the handshake.
    let text = `HTTP/1.1 ${status} Switching Protocols\r\n`;
    for (let i = 0; i + 1 < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    client.write(`${text}\r\n`, 'latin1');
    if (head.length > 0) client.write(head);
    if (this.#upgrade.head.length > 0) socket.write(this.#upgrade.head);
    splice(client, socket, {
      idleTimeoutMs: UPGRADED_IDLE_TIMEOUT_MS,
      onClose: (result) => {
        outcome.responseBytes = result.bToA;
        if (result.reason !== '' && result.reason !== 'ECONNRESET') outcome.addFlag(DOWNSTREAM_DISCONNECT);
        this.#finish();
      },
    });
  }

  onResponseStart(_controller: UpstreamController, status: number, headers: readonly string[], reason: string): void {
    // Not upgraded: an ordinary answer, after which the connection closes.
    const outcome = this.#outcome;
    outcome.status = status;
    outcome.upstreamMs = performance.now() - outcome.startMs;
    outcome.responseStartMs = outcome.upstreamMs;
    const res = responseOnSocket(this.#upgrade.req, this.#upgrade.socket);
    this.#res = res;
    res.head(status, forwardResponseHeaders(headers), reason);
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    this.#outcome.responseBytes += chunk.length;
    const res = this.#res as Http1Response;
    if (!res.data(chunk)) {
      controller.pause();
      res.onDrain(() => controller.resume());
    }
  }

  onResponseEnd(_controller: UpstreamController, trailers: readonly string[]): void {
    this.#settle();
    this.#res?.finish(undefined, trailers);
    this.#finish();
  }

  onResponseError(_controller: UpstreamController, error: Error): void {
    this.#settle();
    if (this.#done) return;
    const outcome = this.#outcome;
    if (this.#upgrade.socket.destroyed) {
      outcome.addFlag(DOWNSTREAM_DISCONNECT);
    } else {
      const proxyError = classifyUpstreamError(error, this.#upstream.address);
      outcome.addFlag(RESPONSE_FLAG[proxyError.kind]);
      if (this.#res === undefined) {
        outcome.status = statusOf(proxyError);
        outcome.responseBytes = sendProxyError(responseOnSocket(this.#upgrade.req, this.#upgrade.socket), proxyError);
      } else {
        this.#upgrade.socket.destroy();
      }
    }
    this.#finish();
  }

  readonly #onClientClose = (): void => {
    if (this.#settled) return;
    const reason = new Error('downstream disconnected');
    if (this.#controller) this.#controller.abort(reason);
    else if (this.#upstream.pool.cancel(this)) this.onResponseError(NOT_STARTED, reason);
  };

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#upstream.inflight -= 1;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#upgrade.socket.off('close', this.#onClientClose);
    this.#outcome.end(performance.now());
    this.#onDone(this.#outcome);
  }
}
