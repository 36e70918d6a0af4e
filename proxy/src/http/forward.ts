// Sends one request to an upstream pool and streams the answer back: the terminal step
// shared by the inbound and outbound sides.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Upstream } from '../upstream/upstream-pools.ts';
import { ForwardHandler, type ForwardOutcome } from './forward-handler.ts';
import { hasRequestBody } from './request-target.ts';

export interface ForwardRequest {
  readonly path: string;
  readonly headers: string[];
  readonly timeoutMs: number;
}

export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  request: ForwardRequest,
  onDone: (outcome: ForwardOutcome) => void,
): void {
  upstream.inflight += 1;
  const handler = new ForwardHandler(res, upstream.address, request.timeoutMs, (outcome) => {
    upstream.inflight -= 1;
    onDone(outcome);
  });
  const options: Dispatcher.DispatchOptions = {
    path: request.path,
    method: req.method as Dispatcher.HttpMethod,
    headers: request.headers,
    body: hasRequestBody(req.rawHeaders) ? req : null,
  };
  upstream.pool.dispatch(options, handler);
}
