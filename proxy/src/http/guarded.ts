// The request boundary: no request may take the proxy down. A bug that throws while
// handling one request becomes a 500 for that request and an error log, nothing more.
import type { Logger } from 'pino';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import { sendProxyError } from './synthetic-response.ts';

type Handler = (req: ProxyRequest, res: ProxyResponse) => void;

export function guarded(log: Logger, handler: Handler): Handler {
  return (req, res) => {
    try {
      handler(req, res);
    } catch (error) {
      log.error({ err: error, method: req.method, url: req.url }, 'internal error while handling a request');
      sendProxyError(res, { kind: 'internal', message: (error as Error).message });
    }
  };
}
