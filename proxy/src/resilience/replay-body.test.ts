// On a real HTTP server, since ReplayBody works on IncomingMessage.
import { once } from 'node:events';
import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayBody } from './replay-body.ts';

let server: ReturnType<typeof createServer> | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((done) => server?.close(done));
  server = undefined;
});

/** Sends `chunks` as a request body and hands the server side's IncomingMessage to `use`. */
async function withRequest(chunks: string[], use: (req: IncomingMessage) => Promise<void>): Promise<void> {
  let handled: Promise<void> | undefined;
  server = createServer((req, res) => {
    handled = use(req).finally(() => res.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = request({ port: (server.address() as AddressInfo).port, method: 'POST', host: '127.0.0.1' });
  for (const c of chunks) client.write(c);
  client.end();
  const [res] = (await once(client, 'response')) as [IncomingMessage];
  res.resume();
  await once(res, 'end');
  await handled;
}

describe('ReplayBody', () => {
  it('hands out the unread stream itself', async () => {
    await withRequest(['abc'], async (req) => {
      const body = new ReplayBody(req, 100);
      expect(body.replayable).toBe(true);
      expect(body.next()).toBe(req);
      req.resume();
    });
  });

  it('replays the recorded bytes once the whole body has arrived within the bound', async () => {
    await withRequest(['hello ', 'world'], async (req) => {
      const body = new ReplayBody(req, 100);
      body.recordFromNowOn();
      expect(body.replayable).toBe(false); // still arriving
      req.resume();
      await once(req, 'end');
      expect(body.replayable).toBe(true);
      expect(String(body.next())).toBe('hello world');
    });
  });

  it('gives up on a body larger than the bound', async () => {
    await withRequest(['x'.repeat(60), 'y'.repeat(60)], async (req) => {
      const body = new ReplayBody(req, 100);
      body.recordFromNowOn();
      req.resume();
      await once(req, 'end');
      expect(body.replayable).toBe(false);
      expect(body.next()).toBeUndefined();
    });
  });

  it('keeps nothing when nothing may be replayed, and nothing once an abandoned attempt holds the stream', async () => {
    await withRequest(['abc'], async (req) => {
      const none = new ReplayBody(req, 0);
      none.recordFromNowOn();
      expect(none.replayable).toBe(false);
      const claimed = new ReplayBody(req, 100);
      claimed.claim();
      expect(claimed.next()).toBeUndefined();
      req.resume();
    });
  });
});
