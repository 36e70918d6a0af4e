// `weft tap`: a live stream of one service's requests, filtered at the sidecars.
import { spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { WEFT_BIN } from '@weft/cli/local-mesh';
import { describe, expect, it } from 'vitest';
import {
  FAST_TELEMETRY,
  onCleanup,
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  waitForMeshSync,
  yamlDocs,
} from '../src/harness/index.ts';

describe('weft tap', () => {
  it('streams the requests that match path, method and status, then stops at --max', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('client'), service('orders')) });
    const app = await startApp('orders', (req, res) => {
      res.writeHead(req.url?.startsWith('/api/broken') ? 503 : 200);
      res.end('x');
    });
    const [client] = await Promise.all([
      startSidecar({ service: 'client', controlPlane: cp.xdsAddress, args: FAST_TELEMETRY }),
      startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: app.port, args: FAST_TELEMETRY }),
    ]);
    await waitForMeshSync(cp, 2);

    const tap = spawn(
      process.execPath,
      [
        WEFT_BIN,
        'tap',
        'orders',
        '--path',
        '/api',
        '--method',
        'POST',
        '--status',
        '5xx',
        '--max',
        '3',
        '-o',
        'json',
        '--server',
        cp.adminUrl,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    onCleanup(() => {
      if (tap.exitCode === null) tap.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    tap.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    tap.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => tap.once('exit', resolve));

    // Traffic of every kind, in rounds, until the tap has seen three matches and left.
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let done = false;
    void exited.then(() => {
      done = true;
    });
    for (let round = 0; round < 100 && !done; round++) {
      await Promise.all([
        send({ port: client.outboundPort, host: 'orders', path: '/api/ok', method: 'POST', agent }),
        send({ port: client.outboundPort, host: 'orders', path: '/api/broken/1', method: 'GET', agent }),
        send({ port: client.outboundPort, host: 'orders', path: '/other/broken', method: 'POST', agent }),
        send({ port: client.outboundPort, host: 'orders', path: '/api/broken/2?x=1', method: 'POST', agent }),
      ]);
      await new Promise((r) => setTimeout(r, 50));
    }
    agent.destroy();
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('tapping');
    const events = stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            method: string;
            path: string;
            statusCode: number;
            direction: string;
            source: { service: string };
            traceId: string;
          },
      );
    expect(events).toHaveLength(3);
    for (const e of events) {
      expect(e.method).toBe('POST');
      expect(e.path).toBe('/api/broken/2?x=1');
      expect(e.statusCode).toBe(503);
      expect(e.source.service).toBe('client');
      expect(e.traceId).toMatch(/^[0-9a-f]{32}$/);
    }
    // The orders sidecar reports its inbound side; the tap covers only orders' own sidecars.
    expect(new Set(events.map((e) => e.direction))).toEqual(new Set(['inbound']));
  });
});
