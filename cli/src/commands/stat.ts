// `weft stat [service]`: success rate, requests per second and latency percentiles per
// service over a sliding window, like `linkerd viz stat`; with a service, also its routes.
import type { Command } from 'commander';
import { adminRequest, DEFAULT_SERVER } from '../admin-client.ts';
import { type Golden, goldenCells, type Ref } from '../output/mesh-format.ts';
import { formatTable } from '../output/table.ts';
import { UserError } from './shared.ts';

interface ServiceStat extends Ref {
  meshed: number;
  inbound: Golden | null;
  outbound: Golden | null;
  tcp: { opened: number };
}
interface RouteStat extends Ref {
  route: string;
  metrics: Golden;
}

export function registerStat(program: Command): void {
  program
    .command('stat')
    .description('golden metrics per service: success rate, requests per second, latency p50/p95/p99')
    .argument('[service]', 'one service (then also its routes)')
    .option('-n, --namespace <ns>', 'namespace of the service', 'default')
    .option('-w, --window <window>', 'sliding window: 30s, 1m, 5m or 10m', '1m')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (service: string | undefined, opts) => {
      const query = new URLSearchParams({ window: opts.window });
      if (service) {
        query.set('service', service);
        query.set('namespace', opts.namespace);
      }
      const stat = await adminRequest<{ window: string; services: ServiceStat[]; routes?: RouteStat[] }>(opts.server, `/api/stat?${query}`);
      if (opts.output === 'json') {
        console.log(JSON.stringify(stat, null, 2));
        return;
      }
      if (service && stat.services.length === 0) throw new UserError(`no service ${service} in namespace ${opts.namespace}`);
      const rows = stat.services.map((s) => [
        s.namespace,
        s.service,
        String(s.meshed),
        ...goldenCells(s.inbound),
        s.inbound ? String(s.inbound.requests) : '-',
        String(s.tcp.opened),
      ]);
      console.log(
        formatTable(
          ['NAMESPACE', 'SERVICE', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'REQUESTS', 'TCP_CONN'],
          rows,
        ),
      );
      if (stat.routes && stat.routes.length > 0) {
        console.log('');
        console.log(
          formatTable(
            ['ROUTE', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'REQUESTS'],
            stat.routes.map((r) => [r.route, ...goldenCells(r.metrics), String(r.metrics.requests)]),
          ),
        );
      }
      console.log(`\nwindow ${stat.window}; success and latency as received by each service's sidecars`);
    });
}
