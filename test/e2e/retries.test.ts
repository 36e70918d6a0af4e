// Retries through real sidecars against a scripted upstream that fails, resets, cuts
// bodies short and hangs: what is retried, what never is, and what the caller sees.
import { describe, expect, it } from 'vitest';
import {
  destinationPolicy,
  route,
  type ScriptedApp,
  send,
  service,
  startControlPlane,
  startScriptedApp,
  startSidecar,
  waitForMeshSync,
  yamlDocs,
} from '../src/harness/index.ts';

async function mesh(routeSpec: unknown, extra: string[] = []): Promise<{ port: number; app: ScriptedApp }> {
  const cp = await startControlPlane({ config: yamlDocs(service('client'), service('flaky'), route('flaky', routeSpec), ...extra) });
  const app = await startScriptedApp('flaky');
  const [client] = await Promise.all([
    startSidecar({ service: 'client', controlPlane: cp.xdsAddress }),
    startSidecar({ service: 'flaky', controlPlane: cp.xdsAddress, appPort: app.port }),
  ]);
  await waitForMeshSync(cp, 2);
  return { port: client.outboundPort, app };
}

describe('retries', () => {
  it('retries a GET past two failures, never a POST by default, and replays a buffered body when allowed', async () => {
    const { port, app } = await mesh({
      hosts: ['flaky'],
      rules: [
        {
          match: { path: { prefix: '/replay' } },
          retries: { attempts: 2, retryOn: ['5xx'], retryNonIdempotent: true, maxRequestBytes: 1024 },
          backends: [{ service: 'flaky' }],
        },
        { retries: { attempts: 2, retryOn: ['5xx'] }, backends: [{ service: 'flaky' }] },
      ],
    });

    const get = await send({ port, host: 'flaky', path: '/get?fail=2&key=g' });
    expect(get.status).toBe(200);
    expect(get.headers['x-weft-attempts']).toBe('3');
    expect(get.headers['x-weft-response-flags']).toBeUndefined();
    expect(app.count('/get')).toBe(3);

    // Three failures are one too many: the caller gets the upstream's 503, marked URX.
    const exhausted = await send({ port, host: 'flaky', path: '/get?fail=3&key=x' });
    expect(exhausted.status).toBe(503);
    expect(exhausted.headers['x-weft-attempts']).toBe('3');
    expect(exhausted.headers['x-weft-response-flags']).toBe('URX');

    const post = await send({ port, host: 'flaky', method: 'POST', path: '/post?fail=1&key=p', body: 'order' });
    expect(post.status).toBe(503);
    expect(post.headers['x-weft-attempts']).toBe('1');
    expect(app.count('/post')).toBe(1);

    // The body streams to the first attempt and is replayed, byte for byte, to the next.
    const body = Buffer.alloc(1000, 'b');
    const replayed = await send({
      port,
      host: 'flaky',
      method: 'POST',
      path: '/replay?fail=1&key=r',
      body,
      headers: { 'content-type': 'text/plain' },
    });
    expect(replayed.status).toBe(200);
    expect(replayed.headers['x-weft-attempts']).toBe('2');
    const replays = app.arrivals.filter((a) => a.url.startsWith('/replay'));
    expect(replays.map((a) => a.bodyBytes)).toEqual([1000, 1000]);
    expect(replays[0]?.bodySha256).toBe(replays[1]?.bodySha256);

    // A chunked body (no content-length) is replayed too.
    const chunked = await send({
      port,
      host: 'flaky',
      method: 'PUT',
      path: '/replay?fail=1&key=c',
      body,
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect(chunked.status).toBe(200);
    expect(chunked.headers['x-weft-attempts']).toBe('2');

    // A body larger than the buffer is not retried.
    const big = await send({ port, host: 'flaky', method: 'PUT', path: '/replay?fail=1&key=big', body: Buffer.alloc(5000, 'x') });
    expect(big.status).toBe(503);
    expect(big.headers['x-weft-attempts']).toBe('1');
    expect(app.count('/replay?fail=1&key=big')).toBe(1);
  });

  it('retries resets of idempotent requests by default, and never once response bytes went downstream', async () => {
    const { port, app } = await mesh({ hosts: ['flaky'], rules: [{ backends: [{ service: 'flaky' }] }] });

    const reset = await send({ port, host: 'flaky', path: '/r?reset=2&key=r' });
    expect(reset.status).toBe(200);
    expect(reset.headers['x-weft-attempts']).toBe('3');
    expect(app.count('/r')).toBe(3);

    // A POST that gets no response is not sent again: it may have been processed.
    const post = await send({ port, host: 'flaky', method: 'POST', path: '/p?reset=1&key=p', body: 'x' });
    expect(post.status).toBe(502);
    expect(post.headers['x-weft-response-flags']).toBe('UR');
    expect(app.count('/p')).toBe(1);

    // Headers and part of the body went out before the reset: the client sees the cut.
    await expect(send({ port, host: 'flaky', path: '/m?midbody' })).rejects.toThrow();
    expect(app.count('/m')).toBe(1);

    // Default 5xx responses are not retried (only connect failures and resets are).
    const s = await send({ port, host: 'flaky', path: '/s?status=500' });
    expect(s.status).toBe(500);
    expect(app.count('/s')).toBe(1);
  });

  it('keeps upstream attempts within the retry budget under 100 % failure', async () => {
    // Every request would be tried 4 times (3 retries, no backoff to speak of); the budget
    // allows retries of 20 % of the requests in its window. The window is a minute, so the
    // whole storm falls in it however slow this machine is, and the bound is exact (the
    // reserve of minRetriesPerSecond is covered by the unit tests).
    const { port, app } = await mesh(
      {
        hosts: ['flaky'],
        rules: [{ retries: { attempts: 3, retryOn: ['5xx'], backoff: { base: '1ms', max: '1ms' } }, backends: [{ service: 'flaky' }] }],
      },
      [
        destinationPolicy('flaky', {
          service: 'flaky',
          retryBudget: { percent: 20, minRetriesPerSecond: 0, ttl: '60s' },
          outlierDetection: { consecutiveGatewayErrors: 0 },
        }),
      ],
    );
    app.setMode({ kind: 'status', status: 503 });
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const requests = 200;
    const started = Date.now();
    let denied = 0;
    for (let batch = 0; batch < requests / 8; batch++) {
      const replies = await Promise.all(Array.from({ length: 8 }, () => send({ port, host: 'flaky', path: '/storm', agent })));
      for (const reply of replies) {
        expect(reply.status).toBe(503);
        if (reply.headers['x-weft-response-flags'] === 'URX') denied += 1;
      }
    }
    agent.destroy();
    expect(Date.now() - started, 'the storm must fit in the budget window').toBeLessThan(50_000);
    const attempts = app.count('/storm');
    const amplification = attempts / requests;
    console.log(
      `retry storm: ${requests} requests → ${attempts} upstream attempts (amplification ${amplification.toFixed(3)}; without a budget 4.0)`,
    );
    // Retries add at most 20 %…
    expect(attempts).toBeLessThanOrEqual(requests * 1.2);
    // …and the budget, not the attempt limit, is what stopped them.
    expect(attempts).toBeGreaterThanOrEqual(requests * 1.2 - 8);
    expect(denied).toBeGreaterThan(requests / 2);
  });
});
