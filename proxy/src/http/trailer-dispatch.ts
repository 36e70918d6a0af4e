// Requests that announce trailers (a `Trailer` header on a chunked body): undici cannot send
// request trailers, so these go out on a connection of their own through node:http's
// client — over the upstream's mTLS connector, or plaintext to the local app — which writes
// the body chunked and the trailers after it. The answer comes back through the same undici
// dispatch handler interface (ForwardHandler), response trailers included, so the attempt's
// owner cannot tell the difference. Rare by nature; the common path never comes here.
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Upstream } from '../upstream/upstream-pools.ts';
import { rawHeader } from './headers.ts';

/** Whether a request with a body announces trailers (RFC 9110 §6.6.2). */
export function announcesTrailers(raw: readonly string[]): boolean {
  return rawHeader(raw, 'trailer') !== undefined;
}

/** The request's `Trailer` header value(s), for the next hop. */
function trailerNames(raw: readonly string[]): string {
  const names: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'trailer') names.push(raw[i + 1] as string);
  }
  return names.join(', ');
}

class Controller implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  rawHeaders: string[] | null = null;
  rawTrailers: string[] | null = null;
  readonly #request: ClientRequest;
  #response: IncomingMessage | undefined;

  constructor(request: ClientRequest) {
    this.#request = request;
  }

  set response(res: IncomingMessage) {
    this.#response = res;
  }

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#request.destroy(reason);
  }

  pause(): void {
    this.paused = true;
    this.#response?.pause();
  }

  resume(): void {
    this.paused = false;
    this.#response?.resume();
  }
}

/**
 * Sends `options` (body: the request stream) to `upstream` with the trailers of `source`
 * after the body, and reports to `handler` as undici would.
 */
export function dispatchWithTrailers(
  upstream: Upstream,
  options: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
  source: IncomingMessage,
): void {
  const colon = upstream.address.lastIndexOf(':');
  const host = upstream.address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = upstream.address.slice(colon + 1);
  const headers = [...(options.headers as string[]), 'trailer', trailerNames(source.rawHeaders)];
  const mtls = upstream.mtls;
  const request = httpRequest({
    method: options.method,
    path: options.path,
    headers,
    createConnection: (_opts, done) => {
      if (mtls) {
        mtls({ hostname: host, host, protocol: 'https:', port, servername: null } as never, (error, socket) => {
          done(error as Error, socket as unknown as Duplex);
        });
        return undefined;
      }
      return netConnect({ host, port: Number(port), noDelay: true });
    },
  });
  request.shouldKeepAlive = false;
  const controller = new Controller(request);
  let failed = false;
  const fail = (error: Error) => {
    if (failed) return;
    failed = true;
    handler.onResponseError?.(controller, error);
  };
  request.on('error', fail);
  request.once('socket', () => handler.onRequestStart?.(controller, {}));
  request.once('response', (res: IncomingMessage) => {
    controller.response = res;
    controller.rawHeaders = res.rawHeaders;
    handler.onResponseStart?.(controller, res.statusCode ?? 0, res.headers, res.statusMessage);
    res.on('data', (chunk: Buffer) => handler.onResponseData?.(controller, chunk));
    res.once('end', () => {
      if (failed) return;
      controller.rawTrailers = res.rawTrailers;
      handler.onResponseEnd?.(controller, res.trailers);
    });
    res.once('error', fail);
    res.once('aborted', () => fail(Object.assign(new Error('upstream closed the response early'), { code: 'UND_ERR_SOCKET' })));
  });
  const body = options.body as NodeJS.ReadableStream | null | undefined;
  if (!body) {
    request.end();
    return;
  }
  body.on('data', (chunk: Buffer) => {
    if (!request.write(chunk)) {
      body.pause();
      request.once('drain', () => body.resume());
    }
  });
  body.once('end', () => {
    const raw = source.rawTrailers;
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i] as string, raw[i + 1] as string]);
    if (pairs.length > 0) request.addTrailers(pairs);
    request.end();
  });
  body.once('error', (error: Error) => request.destroy(error));
}
