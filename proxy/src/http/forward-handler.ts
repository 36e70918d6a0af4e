// Streams one upstream response into the downstream ServerResponse: an undici dispatch
// handler, so no intermediate stream objects are built per request (stream.pipeline()
// halves throughput). Backpressure: a full downstream pauses the upstream read.
// A downstream that goes away aborts the upstream request, so no work is orphaned.
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { RequestRecord } from '../telemetry/request-record.ts';
import { forwardResponseHeaders } from './headers.ts';
import { classifyUpstreamError, type ProxyError } from './proxy-error.ts';
import { sendProxyError } from './synthetic-response.ts';

/** How one forwarded request ended, for telemetry and the caller's bookkeeping. */
export type ForwardOutcome =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'proxy-error'; readonly error: ProxyError }
  | { readonly kind: 'downstream-disconnect' };

class DownstreamDisconnect extends Error {
  override readonly name = 'DownstreamDisconnect';
}

class RouteTimeout extends Error {
  override readonly name = 'RouteTimeout';
}

export class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  readonly #upstream: string;
  readonly #onDone: (outcome: ForwardOutcome, record: RequestRecord | undefined) => void;
  readonly #timeoutMs: number;
  readonly #record: RequestRecord | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #status = 0;
  #done = false;

  constructor(
    res: ServerResponse,
    upstream: string,
    timeoutMs: number,
    onDone: (outcome: ForwardOutcome, record: RequestRecord | undefined) => void,
    record?: RequestRecord,
  ) {
    this.#res = res;
    this.#record = record;
    this.#upstream = upstream;
    this.#timeoutMs = timeoutMs;
    this.#onDone = onDone;
    res.once('close', this.#onDownstreamClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#timeoutMs > 0) {
      this.#timer = setTimeout(() => controller.abort(new RouteTimeout()), this.#timeoutMs);
    }
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    this.#status = statusCode;
    const record = this.#record;
    if (record) {
      record.status = statusCode;
      record.responseStartMs = performance.now() - record.startMs;
    }
    const raw = (controller.rawHeaders ?? []) as (Buffer | string)[];
    const headers = forwardResponseHeaders(raw);
    if (statusMessage) this.#res.writeHead(statusCode, statusMessage, headers);
    else this.#res.writeHead(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#record) this.#record.responseBytes += chunk.length;
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#res.end();
    this.#finish({ kind: 'response', status: this.#status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (error instanceof DownstreamDisconnect) {
      this.#finish({ kind: 'downstream-disconnect' });
      return;
    }
    const proxyError: ProxyError =
      error instanceof RouteTimeout
        ? { kind: 'upstream-timeout', upstream: this.#upstream, timeoutMs: this.#timeoutMs }
        : classifyUpstreamError(error, this.#upstream);
    sendProxyError(this.#res, proxyError);
    this.#finish({ kind: 'proxy-error', error: proxyError });
  }

  readonly #onDownstreamClose = (): void => {
    if (this.#done || this.#res.writableFinished) return;
    this.#controller?.abort(new DownstreamDisconnect());
  };

  #finish(outcome: ForwardOutcome): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#res.off('close', this.#onDownstreamClose);
    this.#onDone(outcome, this.#record);
  }
}
