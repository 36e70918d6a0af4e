// The hop bench compares two pairs that must do the same thing: each pair, h1 hop and h2 hop,
// takes concurrent requests to a real app over a real mTLS hop and hands back what the app
// said; the HTTP/2 hop does it over one session, the HTTP/1.1 hop over a pool.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../src/peers/certs.ts';
import { openRunScope, type RunScope } from '../src/system/run-scope.ts';
import { type Hop, startHopPair } from './hop-pair.ts';

let scope: RunScope;
let app: Server;
let appPort: number;

beforeAll(async () => {
  scope = openRunScope('weft-hop-test-');
  app = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      res.writeHead(201, { 'x-app': 'yes', 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, tag: req.headers['x-tag'], body }));
    });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appPort = (app.address() as AddressInfo).port;
});

afterAll(async () => {
  await scope?.close();
  await new Promise((resolve) => app?.close(resolve));
});

interface Answer {
  readonly status: number;
  readonly header: string | undefined;
  readonly json: { method: string; url: string; host: string; tag: string; body: string };
}

function send(port: number, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers: { host: 'app.test', 'x-tag': path } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          text += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, header: res.headers['x-app'] as string | undefined, json: JSON.parse(text) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe.each<Hop>(['h1', 'h2'])('a hop-proxy pair with an %s hop', (hop) => {
  it('proxies concurrent requests, bodies both ways, over mutual TLS', async () => {
    const pair = await startHopPair(scope.processes, {
      hop,
      appPort,
      certs: makeCertificates(scope.dir, ['client', 'app']),
      logDir: scope.dir,
    });
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => send(pair.port, `/r/${i}`, i % 2 === 0 ? undefined : `payload ${i}`)),
    );
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(201);
      expect(answer.header).toBe('yes');
      expect(answer.json).toEqual({
        method: i % 2 === 0 ? 'GET' : 'POST',
        url: `/r/${i}`,
        host: 'app.test',
        tag: `/r/${i}`,
        body: i % 2 === 0 ? '' : `payload ${i}`,
      });
    });
    const connections = pair.b
      .recentOutput(200)
      .split('\n')
      .filter((line) => line.includes('"mtls connection"')).length;
    // HTTP/2 multiplexes every request on the one session; the HTTP/1.1 pool opens more than
    // one connection for requests that are in flight together.
    if (hop === 'h2') expect(connections).toBe(1);
    else expect(connections).toBeGreaterThan(1);
  }, 30_000);
});
