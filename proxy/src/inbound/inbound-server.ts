// The inbound listener: requests from other sidecars (and, before mTLS, anyone) for this
// workload, forwarded to the app on 127.0.0.1:<app port> through one keep-alive pool. No
// retries or load balancing here: the calling sidecar owns those.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { forward } from '../http/forward.ts';
import { guarded } from '../http/guarded.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { RESPONSE_FLAG } from '../http/proxy-error.ts';
import { Outcome, type OutcomeListener, type RequestOutcome } from '../http/request-outcome.ts';
import { requestTarget } from '../http/request-target.ts';
import { serverTimeouts } from '../http/server-timeouts.ts';
import { sendProxyError } from '../http/synthetic-response.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';

export interface InboundServerOptions {
  readonly app: Upstream;
  readonly log: Logger;
  /** Called once per request when it is over (telemetry hooks in here). */
  readonly onOutcome?: OutcomeListener;
}

export function createInboundServer(options: InboundServerOptions): Server {
  const { app } = options;
  const log = options.log.child({ component: 'inbound' });
  const listener = options.onOutcome;
  const done = (outcome: RequestOutcome) => {
    if (outcome.flags !== '') log.debug({ outcome }, 'app request failed');
    listener?.(outcome);
  };
  return createServer(
    serverTimeouts,
    guarded(log, (req: IncomingMessage, res: ServerResponse) => {
      const outcome = new Outcome('inbound', req.method as string, performance.now());
      const target = requestTarget(req);
      if (typeof target === 'string') {
        outcome.flags = RESPONSE_FLAG['bad-request'];
        outcome.status = 400;
        sendProxyError(res, { kind: 'bad-request', message: target });
        outcome.end(performance.now());
        return done(outcome);
      }
      const headers = forwardRequestHeaders(req.rawHeaders, {
        clientAddress: req.socket.remoteAddress,
        host: target.absolute ? target.host : undefined,
      });
      forward(req, res, app, { path: target.path, headers }, outcome, done);
    }),
  );
}
