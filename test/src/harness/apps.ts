// Scripted upstream apps, in the test process on 127.0.0.1:0: each answers with its name
// and records what it received, so tests assert on what arrived, not only on statuses.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './cleanup.ts';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly bodyBytes: number;
  readonly bodySha256: string;
}

export interface TestApp {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  readonly received: ReceivedRequest[];
}

export type AppHandler = (req: IncomingMessage, res: ServerResponse, received: ReceivedRequest) => void;

/** Default behaviour: 200 with JSON {app, method, url}. */
const echo =
  (name: string): AppHandler =>
  (req, res, received) => {
    const body = JSON.stringify({ app: name, method: req.method, url: req.url, bodyBytes: received.bodyBytes });
    res.writeHead(200, { 'content-type': 'application/json', 'x-app': name });
    res.end(body);
  };

export async function startApp(name: string, handler: AppHandler = echo(name)): Promise<TestApp> {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const record: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
      };
      received.push(record);
      handler(req, res, record);
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
  return { name, port: (server.address() as AddressInfo).port, server, received };
}
