// The inbound listener: requests from other sidecars (and, before mTLS, anyone) for this
// workload, forwarded to the app on 127.0.0.1:<app port> through one keep-alive pool.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { forward } from '../http/forward.ts';
import type { ForwardOutcome } from '../http/forward-handler.ts';
import { guarded } from '../http/guarded.ts';
import { forwardRequestHeaders } from '../http/headers.ts';
import { requestTarget } from '../http/request-target.ts';
import { serverTimeouts } from '../http/server-timeouts.ts';
import { sendProxyError } from '../http/synthetic-response.ts';
import type { RequestRecord } from '../telemetry/request-record.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { Upstream } from '../upstream/upstream-pools.ts';

export function createInboundServer(options: { app: Upstream; log: Logger; telemetry: Telemetry }): Server {
  const { app, telemetry } = options;
  const log = options.log.child({ component: 'inbound' });
  const done = (outcome: ForwardOutcome, record: RequestRecord | undefined) => {
    if (outcome.kind === 'proxy-error') log.debug({ error: outcome.error }, 'app request failed');
    if (record) telemetry.forwarded(record, outcome);
  };
  return createServer(
    serverTimeouts,
    guarded(log, (req: IncomingMessage, res: ServerResponse) => {
      const record = telemetry.begin(req, 'inbound');
      const target = requestTarget(req);
      if (typeof target === 'string') {
        const error = { kind: 'bad-request', message: target } as const;
        sendProxyError(res, error);
        if (record) telemetry.failed(record, error);
        return;
      }
      const headers = forwardRequestHeaders(req.rawHeaders, {
        clientAddress: req.socket.remoteAddress,
        host: target.absolute ? target.host : undefined,
      });
      if (record) telemetry.forwarding(record, headers, app.address);
      forward(req, res, app, { path: target.path, headers, timeoutMs: 0, record }, done);
    }),
  );
}
