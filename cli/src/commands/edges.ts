// `weft edges`: who calls whom, with the mTLS identities on both ends, the success rate
// and latency of each edge (as the caller's sidecar saw it).
import type { Command } from 'commander';
import { adminRequest, DEFAULT_SERVER } from '../admin-client.ts';
import { type Golden, millis, percent, perSecond, type Ref, serviceName } from '../output/mesh-format.ts';
import { formatTable } from '../output/table.ts';

interface EdgeStat {
  source: Ref;
  destination: Ref;
  sourceIdentities: string[];
  destinationIdentities: string[];
  reporter: 'outbound' | 'inbound';
  metrics: Golden;
}

export function registerEdges(program: Command): void {
  program
    .command('edges')
    .description('edges of the service graph: source → destination, identities, success rate and latency')
    .option('-w, --window <window>', 'sliding window: 30s, 1m, 5m or 10m', '1m')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (opts) => {
      const data = await adminRequest<{ window: string; edges: EdgeStat[] }>(
        opts.server,
        `/api/edges?window=${encodeURIComponent(opts.window)}`,
      );
      if (opts.output === 'json') {
        console.log(JSON.stringify(data, null, 2));
        return;
      }
      const ids = (list: string[]) => (list.length === 0 ? '-' : list.join(','));
      const rows = data.edges.map((e) => [
        serviceName(e.source),
        serviceName(e.destination),
        ids(e.sourceIdentities),
        ids(e.destinationIdentities),
        percent(e.metrics.successRate),
        perSecond(e.metrics.rps),
        millis(e.metrics.latencyMs?.p50),
        millis(e.metrics.latencyMs?.p99),
        String(e.metrics.requests),
      ]);
      console.log(
        formatTable(['SRC', 'DST', 'SRC_IDENTITY', 'DST_IDENTITY', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P99', 'REQUESTS'], rows),
      );
      console.log(`\nwindow ${data.window}`);
    });
}
