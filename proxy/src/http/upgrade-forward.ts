// One HTTP/1.1 Upgrade (WebSocket and the like) sent to one upstream: the request goes out
// through the upstream's pool with undici's upgrade support; a 101 is relayed to the client
// as the upstream wrote it and the two connections are spliced (tcp/splice.ts); any other
// answer is returned as a normal response on that connection, which then closes. Routing,
// authorization and picking the upstream belong to the listener that calls this.
import type { IncomingMessage } from 'node:http';
import { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { splice } from '../tcp/splice.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import { forwardResponseHeaders } from './headers.ts';
import { classifyUpstreamError, DOWNSTREAM_DISCONNECT, type ProxyError, RESPONSE_FLAG } from './proxy-error.ts';
import type { Outcome, OutcomeListener } from './request-outcome.ts';
import { sendProxyError, statusOf } from './synthetic-response.ts';

/** An upgrade request as the listener received it, before any answer. */
export interface UpgradeRequest {
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  /** Bytes the client sent after its headers (the new protocol's first bytes). */
  readonly head: Buffer;
}

/** Idle time after which an upgraded connection is closed (Envoy's tcp_proxy default: 1 h). */
export const UPGRADED_IDLE_TIMEOUT_MS = 3_600_000;

/** A ServerResponse on the upgrade's socket, for answers that are not a 101. */
export function upgradeResponse(upgrade: UpgradeRequest): ServerResponse {
  const res = new ServerResponse(upgrade.req);
  res.shouldKeepAlive = false;
  res.assignSocket(upgrade.socket as never);
  res.once('finish', () => {
    res.detachSocket(upgrade.socket as never);
    upgrade.socket.end();
  });
  return res;
}

/** Answers an upgrade the listener refuses itself (no route, forbidden…). Returns body bytes. */
export function refuseUpgrade(upgrade: UpgradeRequest, outcome: Outcome, error: ProxyError, onDone: OutcomeListener): void {
  outcome.flags = RESPONSE_FLAG[error.kind];
  outcome.status = statusOf(error);
  outcome.responseBytes = sendProxyError(upgradeResponse(upgrade), error);
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
  const protocol = upgrade.req.headers.upgrade ?? '';
  const handler = new UpgradeHandler(upgrade, upstream, outcome, onDone);
  outcome.attempts = 1;
  outcome.upstreamAddress = upstream.address;
  upstream.inflight += 1;
  upstream.pool.dispatch(
    { path: request.path, method: upgrade.req.method as Dispatcher.HttpMethod, headers: request.headers, upgrade: protocol, body: null },
    handler,
  );
}

class UpgradeHandler implements Dispatcher.DispatchHandler {
  readonly #upgrade: UpgradeRequest;
  readonly #upstream: Upstream;
  readonly #outcome: Outcome;
  readonly #onDone: OutcomeListener;
  #res: ServerResponse | undefined;
  #controller: Dispatcher.DispatchController | undefined;
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

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, socket: Duplex): void {
    this.#settle();
    const client = this.#upgrade.socket;
    client.off('close', this.#onClientClose);
    if (client.destroyed) {
      socket.destroy();
      this.#finish();
      return;
    }
    const outcome = this.#outcome;
    outcome.status = statusCode;
    outcome.upstreamMs = performance.now() - outcome.startMs;
    outcome.responseStartMs = outcome.upstreamMs;
    // The 101 as the upstream wrote it: its Upgrade, Connection and Sec-WebSocket-* headers
    // belong to the handshake.
    const raw = (controller.rawHeaders ?? []) as (Buffer | string)[];
    let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
    for (let i = 0; i + 1 < raw.length; i += 2) head += `${String(raw[i])}: ${String(raw[i + 1])}\r\n`;
    client.write(`${head}\r\n`);
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

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    // Not upgraded: an ordinary answer, after which the connection closes.
    const outcome = this.#outcome;
    outcome.status = statusCode;
    outcome.upstreamMs = performance.now() - outcome.startMs;
    outcome.responseStartMs = outcome.upstreamMs;
    const res = upgradeResponse(this.#upgrade);
    this.#res = res;
    const headers = forwardResponseHeaders((controller.rawHeaders ?? []) as (Buffer | string)[]);
    if (statusMessage) res.writeHead(statusCode, statusMessage, headers);
    else res.writeHead(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#outcome.responseBytes += chunk.length;
    const res = this.#res as ServerResponse;
    if (!res.write(chunk)) {
      controller.pause();
      res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#settle();
    this.#res?.end();
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
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
        outcome.responseBytes = sendProxyError(upgradeResponse(this.#upgrade), proxyError);
      } else {
        this.#upgrade.socket.destroy();
      }
    }
    this.#finish();
  }

  readonly #onClientClose = (): void => {
    if (this.#settled) return;
    this.#controller?.abort(new Error('downstream disconnected'));
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
