// Sends one request to an upstream pool and streams the answer back: the terminal step
// shared by the inbound and outbound sides.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RequestRecord } from '../telemetry/request-record.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';
import { ForwardHandler, type ForwardOutcome } from './forward-handler.ts';
import { hasRequestBody } from './request-target.ts';

export interface ForwardRequest {
  readonly path: string;
  readonly headers: string[];
  readonly timeoutMs: number;
  /** Telemetry for this request, when on; the handler fills status, bytes and timing. */
  readonly record?: RequestRecord | undefined;
}

export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  request: ForwardRequest,
  onDone: (outcome: ForwardOutcome, record: RequestRecord | undefined) => void,
): void {
  upstream.inflight += 1;
  const handler = new ForwardHandler(
    res,
    upstream.address,
    request.timeoutMs,
    (outcome, record) => {
      upstream.inflight -= 1;
      onDone(outcome, record);
    },
    request.record,
  );
  const options: Dispatcher.DispatchOptions = {
    path: request.path,
    method: req.method as Dispatcher.HttpMethod,
    headers: request.headers,
    body: hasRequestBody(req.rawHeaders) ? req : null,
  };
  upstream.pool.dispatch(options, handler);
}
