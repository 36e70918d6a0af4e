// HTTP/1.1 limits that protect the sidecar, over raw sockets on the outbound listener: headers
// too large or too many (431), a request-target too long (414), slowloris headers and a
// stalled body (408), a body over the limit (413, by Content-Length and chunked), and
// requests ambiguous in length (400, never forwarded). Each refusal gets its status and a
// log line naming the peer, and the sidecar keeps serving other requests meanwhile.
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { onCleanup, send, service, startApp, startControlPlane, startSidecar, waitForMeshSync, yamlDocs } from '../src/harness/index.ts';

/** Writes `parts` (pausing `gapMs` between them), and returns all the peer sent until it closed (bounded). */
function exchange(port: number, parts: readonly string[], gapMs = 0, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    onCleanup(() => {
      socket.destroy();
    });
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms; got "${answer}"`));
    }, timeoutMs);
    socket.setEncoding('utf8').on('data', (d: string) => {
      answer += d;
    });
    socket.on('error', () => {}); // a reset after the answer is fine: the answer is what counts
    socket.on('close', () => {
      clearTimeout(deadline);
      clearTimeout(timer);
      resolve(answer);
    });
    let i = 0;
    const next = () => {
      if (socket.destroyed || i >= parts.length) return;
      socket.write(parts[i++] as string);
      if (gapMs > 0) timer = setTimeout(next, gapMs);
      else next();
    };
    socket.once('connect', next);
  });
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('HTTP/1.1 limits', () => {
  it('refuses malformed and oversized requests with the right status while serving others', async () => {
    // orders is permissive, so its inbound port takes plaintext from a raw socket too.
    const orders = stringify({
      apiVersion: 'weft.io/v1alpha1',
      kind: 'Service',
      metadata: { name: 'orders' },
      spec: { protocol: 'http', port: 80, mtls: 'permissive' },
    });
    const cp = await startControlPlane({ config: yamlDocs(service('client', { calls: ['orders'] }), orders) });
    const app = await startApp('orders');
    const [client, inbound] = await Promise.all([
      startSidecar({
        service: 'client',
        controlPlane: cp.xdsAddress,
        args: [
          '--http1-max-header-bytes',
          '8192',
          '--http1-max-headers',
          '50',
          '--http1-max-uri-bytes',
          '2048',
          '--http1-headers-timeout-ms',
          '1000',
          '--http1-stream-idle-timeout-ms',
          '1000',
          '--http1-max-request-bytes',
          '65536',
        ],
      }),
      startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: app.port }),
    ]);
    await waitForMeshSync(cp, 2);
    const port = client.outboundPort;
    const ok = async () => expect((await send({ port, host: 'orders', path: '/still-serving' })).status).toBe(200);
    await ok();
    const head = 'GET / HTTP/1.1\r\nHost: orders\r\n';

    // A slow client holds its connection while others are served; it gets 408 after the headers timeout.
    const slowloris = exchange(port, [head, 'x-a: 1\r\n', 'x-b: 2\r\n', 'x-c: 3\r\n', 'x-d: 4\r\n', 'x-e: 5\r\n', 'x-f: 6\r\n'], 400);
    const stalled = exchange(port, ['POST /upload HTTP/1.1\r\nHost: orders\r\nContent-Length: 100\r\n\r\n0123456789']);
    await ok();

    expect(statusOf(await exchange(port, [`${head}x-big: ${'a'.repeat(10_000)}\r\n\r\n`]))).toBe(431);
    await ok();
    const many = Array.from({ length: 60 }, (_, i) => `x-h${i}: ${i}\r\n`).join('');
    expect(statusOf(await exchange(port, [`${head}${many}\r\n`]))).toBe(431);
    expect(statusOf(await exchange(port, [`GET /${'u'.repeat(3000)} HTTP/1.1\r\nHost: orders\r\n\r\n`]))).toBe(414);
    await ok();

    const before = app.received.length;
    const clte = 'POST / HTTP/1.1\r\nHost: orders\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
    expect(statusOf(await exchange(port, [clte]))).toBe(400);
    const twoLengths = 'POST / HTTP/1.1\r\nHost: orders\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!';
    expect(statusOf(await exchange(port, [twoLengths]))).toBe(400);
    const badChunk = 'POST / HTTP/1.1\r\nHost: orders\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n';
    expect(statusOf(await exchange(port, [badChunk]))).toBe(400);
    // Never forwarded: the app saw none of them.
    expect(app.received.length).toBe(before);

    const tooLong = `POST /upload HTTP/1.1\r\nHost: orders\r\nContent-Length: ${128 * 1024}\r\n\r\n${'b'.repeat(1024)}`;
    expect(statusOf(await exchange(port, [tooLong]))).toBe(413);
    const chunk = `${(16 * 1024).toString(16)}\r\n${'c'.repeat(16 * 1024)}\r\n`;
    const chunkedTooLong = exchange(
      port,
      ['POST /upload HTTP/1.1\r\nHost: orders\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array(8).fill(chunk)],
      20,
    );
    expect(statusOf(await chunkedTooLong)).toBe(413);
    await ok();

    expect(statusOf(await slowloris)).toBe(408);
    expect(statusOf(await stalled)).toBe(408);
    await ok();

    // The inbound listener has the same limits (its defaults here: 60 KiB of headers).
    const inboundPort = inbound.inboundPort as number;
    expect(statusOf(await exchange(inboundPort, [`${head}x-big: ${'a'.repeat(70_000)}\r\n\r\n`]))).toBe(431);
    expect(statusOf(await exchange(inboundPort, [clte]))).toBe(400);
    // None of the refused requests reached the app (they all asked for /).
    expect(app.received.filter((r) => r.url === '/')).toEqual([]);
    await ok();

    // Each refusal is logged with the peer.
    const logs = client.child
      .recentOutput()
      .split('\n')
      .filter((l) => l.includes('request refused') || l.includes('stream idle timeout'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const statuses = logs.map((l) => l['status']).sort();
    expect(statuses).toEqual([400, 400, 400, 408, 408, 413, 413, 414, 431, 431]);
    for (const line of logs) expect(line['peer']).toBe('127.0.0.1');
  });
});
