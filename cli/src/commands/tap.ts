// `weft tap <service>`: a live stream of the requests a service's sidecars handle (in and
// out), filtered by path prefix, method and status, until Ctrl-C, --max or --duration.
import type { Command } from 'commander';
import { AdminError, DEFAULT_SERVER } from '../admin-client.ts';
import { millis } from '../output/mesh-format.ts';
import { UserError } from './shared.ts';

interface TapEvent {
  traceId: string;
  direction: string;
  startUnixMs: number;
  durationMs: number;
  method: string;
  authority: string;
  path: string;
  statusCode: number;
  responseFlags: string;
  upstreamAddress: string;
  source: { service: string };
  destination: { service: string; version: string };
}

export function registerTap(program: Command): void {
  program
    .command('tap')
    .description("watch a service's requests live")
    .argument('<service>', 'the service to watch')
    .option('-n, --namespace <ns>', 'namespace of the service', 'default')
    .option('--path <prefix>', 'only paths starting with this')
    .option('--method <method>', 'only this method')
    .option('--status <status>', 'only this status: 503, 5xx or 500-504')
    .option('--direction <direction>', 'only inbound or outbound requests')
    .option('--max <n>', 'stop after this many requests')
    .option('--duration <seconds>', 'stop after this long')
    .option('--rate <n>', 'at most this many events per second per sidecar', '100')
    .option('-o, --output <format>', 'line or json (one object per line)', 'line')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (service: string, opts) => {
      const query = new URLSearchParams({ service, namespace: opts.namespace, rate: opts.rate });
      for (const name of ['path', 'method', 'status', 'direction', 'max'] as const) if (opts[name]) query.set(name, String(opts[name]));
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      if (opts.duration) setTimeout(stop, Number(opts.duration) * 1000).unref();
      let response: Response;
      try {
        response = await fetch(new URL(`/api/tap?${query}`, opts.server), { signal: controller.signal });
      } catch (error) {
        if (controller.signal.aborted) return;
        throw new AdminError(`cannot reach the control plane at ${opts.server} (${(error as Error).message})`);
      }
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => ({}))) as { error?: string };
        throw new UserError(body.error ?? `control plane answered ${response.status}`);
      }
      let buffered = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body) {
          buffered += decoder.decode(chunk as Uint8Array, { stream: true });
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            newline = buffered.indexOf('\n');
            if (line) print(JSON.parse(line) as { tap?: string; event?: TapEvent; skipped?: number }, opts.output === 'json');
          }
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      } finally {
        process.off('SIGINT', stop);
      }
    });
}

function print(message: { tap?: string; event?: TapEvent; skipped?: number }, json: boolean): void {
  if (message.tap) {
    console.error(`tapping ${JSON.stringify(message)}; Ctrl-C to stop`);
    return;
  }
  if (message.skipped) {
    console.error(`(${message.skipped} requests skipped by the rate limit)`);
    return;
  }
  const e = message.event;
  if (!e) return;
  if (json) {
    console.log(JSON.stringify(e));
    return;
  }
  const time = new Date(e.startUnixMs).toISOString().slice(11, 23);
  const hop = `${e.source.service} → ${e.destination.service}`;
  const version = e.destination.version ? ` (${e.destination.version})` : '';
  console.log(
    `${time} ${e.direction.padEnd(8)} ${hop}${version} ${e.method} ${e.authority}${e.path} ${e.statusCode}${e.responseFlags ? ` ${e.responseFlags}` : ''} ${millis(e.durationMs)} trace=${e.traceId}`,
  );
}
