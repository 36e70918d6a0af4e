// `weft status`: every connected sidecar and, per resource type, whether it holds what
// the control plane last sent it (like `istioctl proxy-status`).
import type { Command } from 'commander';
import { adminRequest, DEFAULT_SERVER } from '../admin-client.ts';
import { formatTable } from '../output/table.ts';

interface TypeStatus {
  status: string;
  version: string;
  error?: string;
}
interface SidecarStatus {
  node: { id: string; service: string; namespace: string; labels: Record<string, string>; inboundAddress: string };
  syncedChangeId: number;
  types: Record<'cluster' | 'endpoint' | 'listener' | 'route', TypeStatus>;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show each sidecar and whether it has applied the latest config')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (opts) => {
      const status = await adminRequest<{ changeId: number; sidecars: SidecarStatus[] }>(opts.server, '/api/status');
      if (opts.output === 'json') {
        console.log(JSON.stringify(status, null, 2));
        return;
      }
      const cell = (t: TypeStatus) => (t.version ? `${t.status} (${t.version.slice(0, 8)})` : t.status);
      const rows = status.sidecars
        .sort((a, b) => a.node.id.localeCompare(b.node.id))
        .map((s) => [
          s.node.id,
          `${s.node.service}.${s.node.namespace}`,
          Object.entries(s.node.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',') || '-',
          cell(s.types.listener),
          cell(s.types.route),
          cell(s.types.cluster),
          cell(s.types.endpoint),
          String(s.syncedChangeId),
        ]);
      console.log(formatTable(['SIDECAR', 'SERVICE', 'LABELS', 'LISTENERS', 'ROUTES', 'CLUSTERS', 'ENDPOINTS', 'CHANGE'], rows));
      console.log(`\ncontrol plane at change ${status.changeId}; ${status.sidecars.length} sidecar(s) connected`);
      for (const s of status.sidecars) {
        for (const [type, t] of Object.entries(s.types)) {
          if (t.error) console.log(`${s.node.id} NACKED ${type}: ${t.error}`);
        }
      }
    });
}
