// A misbehaving upstream for resilience tests, in the test process on 127.0.0.1:0. What it
// does to a request comes from the request's query (so one app serves many scenarios) or,
// for every request, from setMode() (so a test can turn an endpoint bad and good again):
//
//   ?fail=N&key=K[&status=S]  the first N requests with key K answer S (default 503), then 200
//   ?reset=N&key=K            the first N requests with key K get their connection reset
//   ?status=S                 always answer S
//   ?hang[=N&key=K]           never answer (until the client goes away); with N, only the
//                             first N requests with key K
//   ?midbody                  send headers and part of the body, then reset the connection
//   ?delay=MS                 answer 200 after MS milliseconds
//
// Every arrival is recorded (time, method, url, body size and hash) and so is every request
// whose client went away before the answer, so tests assert on what the upstream saw.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './cleanup.ts';

export type Mode =
  | { readonly kind: 'normal' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'reset' }
  | { readonly kind: 'hang' };

export interface Arrival {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  /** Date.now() when the request's headers arrived. */
  readonly at: number;
  bodyBytes: number;
  bodySha256: string;
  /** Date.now() when the client went away before the answer; 0 otherwise. */
  cancelledAt: number;
}

export interface ScriptedApp {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  readonly arrivals: Arrival[];
  /** Requests whose client went away before this app answered. */
  readonly cancelled: Arrival[];
  setMode(mode: Mode): void;
  /** Arrivals whose url starts with `prefix`. */
  count(prefix?: string): number;
}

export async function startScriptedApp(name: string): Promise<ScriptedApp> {
  const arrivals: Arrival[] = [];
  const cancelled: Arrival[] = [];
  const seen = new Map<string, number>();
  const resetByApp = new WeakSet<Arrival>();
  let mode: Mode = { kind: 'normal' };

  const handle = (req: IncomingMessage, res: ServerResponse, arrival: Arrival) => {
    const url = new URL(req.url ?? '/', 'http://app');
    const q = url.searchParams;
    const key = q.get('key') ?? '';
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    const reset = () => {
      resetByApp.add(arrival);
      req.socket.resetAndDestroy();
    };
    const answer = (status: number) => {
      const body = JSON.stringify({ app: name, n, bodyBytes: arrival.bodyBytes, bodySha256: arrival.bodySha256 });
      res.writeHead(status, { 'content-type': 'application/json', 'x-app': name });
      res.end(body);
    };
    if (mode.kind === 'status') return answer(mode.status);
    if (mode.kind === 'reset') return reset();
    if (mode.kind === 'hang') return;
    if (q.has('hang') && (q.get('hang') === '' || n <= Number(q.get('hang')))) return;
    if (q.has('fail') && n <= Number(q.get('fail'))) return answer(Number(q.get('status') ?? 503));
    if (q.has('reset') && n <= Number(q.get('reset'))) return reset();
    if (q.has('status')) return answer(Number(q.get('status')));
    if (q.has('midbody')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000', 'x-app': name });
      res.write('x'.repeat(1000));
      setTimeout(reset, 20);
      return;
    }
    if (q.has('delay')) {
      setTimeout(() => answer(200), Number(q.get('delay')));
      return;
    }
    answer(200);
  };

  const server = createServer((req, res) => {
    const arrival: Arrival = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      at: Date.now(),
      bodyBytes: 0,
      bodySha256: '',
      cancelledAt: 0,
    };
    arrivals.push(arrival);
    res.on('close', () => {
      if (res.writableFinished || resetByApp.has(arrival)) return;
      arrival.cancelledAt = Date.now();
      cancelled.push(arrival);
    });
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => {
      arrival.bodyBytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      arrival.bodySha256 = hash.digest('hex');
      handle(req, res, arrival);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    name,
    port: (server.address() as AddressInfo).port,
    server,
    arrivals,
    cancelled,
    setMode(next) {
      mode = next;
    },
    count(prefix = '') {
      return arrivals.filter((a) => a.url.startsWith(prefix)).length;
    },
  };
}
