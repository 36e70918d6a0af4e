// A request from A's outbound listener through B's inbound listener to B's app arrives
// as sent (method, path, query, headers, streamed body) with forwarding headers added and
// hop-by-hop headers removed; what the proxy answers itself names the cause.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appOf, send, service, startApp, startControlPlane, startSidecar, waitForMeshSync, yamlDocs } from '../src/harness/index.ts';

async function twoServiceMesh() {
  const cp = await startControlPlane({ config: yamlDocs(service('a'), service('b'), service('empty')) });
  const appB = await startApp('b');
  const [a, b] = await Promise.all([
    startSidecar({ service: 'a', controlPlane: cp.xdsAddress }),
    startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port }),
  ]);
  await waitForMeshSync(cp, 2);
  return { cp, a, b, appB };
}

describe('sidecar to sidecar', () => {
  it('carries a request from A outbound through B inbound to B, as sent', async () => {
    const { a, appB } = await twoServiceMesh();
    const body = randomBytes(1024 * 1024 + 17);
    const reply = await send({
      port: a.outboundPort,
      host: 'b',
      method: 'POST',
      path: '/orders/42?expand=items&x=%20y',
      headers: { 'x-custom': 'kept', connection: 'keep-alive, x-hop', 'x-hop': 'dropped', 'keep-alive': 'timeout=5' },
      body,
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-app']).toBe('b');
    const seen = appB.received.at(-1);
    expect(seen?.method).toBe('POST');
    expect(seen?.url).toBe('/orders/42?expand=items&x=%20y');
    expect(seen?.headers.host).toBe('b');
    expect(seen?.headers['x-custom']).toBe('kept');
    expect(seen?.headers['x-hop']).toBeUndefined();
    expect(seen?.headers['keep-alive']).toBeUndefined();
    expect(seen?.headers['x-forwarded-proto']).toBe('http');
    // Appended at both hops: the app's address at A's outbound, A's at B's inbound.
    expect(seen?.headers['x-forwarded-for']).toBe('127.0.0.1, 127.0.0.1');
    // Made by A's outbound: the id of the trace it started (telemetry is on by default).
    expect(seen?.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(String(seen?.headers['traceparent']).split('-')[1]).toBe(seen?.headers['x-request-id']);
    expect(seen?.bodyBytes).toBe(body.length);
    expect(seen?.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('keeps a caller-supplied x-request-id and accepts absolute-form (HTTP_PROXY) requests', async () => {
    const { a, appB } = await twoServiceMesh();
    const reply = await send({
      port: a.outboundPort,
      path: 'http://b.default.svc.cluster.local:8080/p?q=1',
      headers: { 'x-request-id': 'abc-123' },
    });
    expect(reply.status).toBe(200);
    expect(appOf(reply)).toBe('b');
    const seen = appB.received.at(-1);
    expect(seen?.url).toBe('/p?q=1');
    expect(seen?.headers.host).toBe('b.default.svc.cluster.local:8080');
    expect(seen?.headers['x-request-id']).toBe('abc-123');
  });

  it('streams a response body without buffering it whole', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('a'), service('b')) });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const appB = await startApp('b', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk\n');
      void gate.then(() => res.end('last chunk\n'));
    });
    const [a] = await Promise.all([
      startSidecar({ service: 'a', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'b', controlPlane: cp.xdsAddress, appPort: appB.port }),
    ]);
    await waitForMeshSync(cp, 2);
    const { request } = await import('node:http');
    const firstChunk = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: a.outboundPort, path: '/', headers: { host: 'b' } }, (res) => {
        res.once('data', (chunk: Buffer) => resolve(chunk.toString()));
        res.on('end', () => {});
      });
      req.on('error', reject);
      req.end();
    });
    // The first chunk arrived while the app still holds the rest back.
    expect(firstChunk).toBe('first chunk\n');
    release();
  });

  it('answers 404 naming host and path when no route matches', async () => {
    const { a } = await twoServiceMesh();
    const reply = await send({ port: a.outboundPort, host: 'nowhere.example', path: '/x' });
    expect(reply.status).toBe(404);
    expect(reply.headers['x-weft-response-flags']).toBe('NR');
    expect(reply.body).toContain('no route for host "nowhere.example" and path "/x"');
  });

  it('answers 503 naming the cluster when a service has no endpoint', async () => {
    const { a } = await twoServiceMesh();
    const reply = await send({ port: a.outboundPort, host: 'empty' });
    expect(reply.status).toBe(503);
    expect(reply.headers['x-weft-response-flags']).toBe('UH');
    expect(reply.body).toContain('no endpoint available for "empty.default"');
  });
});
