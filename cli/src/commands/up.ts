// `weft up [mesh.yaml]`: the whole mesh on one machine, until Ctrl-C.
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { formatTable } from '../output/table.ts';
import type { LocalMesh } from '../up/local-mesh.ts';
import { parsePort, UserError } from './shared.ts';

const EXAMPLE_MESH = fileURLToPath(new URL('../../../examples/mesh.yaml', import.meta.url));

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run a whole mesh on this machine: control plane, workloads with sidecars, and an ingress')
    .argument('[mesh.yaml]', 'mesh file with Service, Route and Workload documents', existsSync('mesh.yaml') ? 'mesh.yaml' : EXAMPLE_MESH)
    .option('-p, --port <port>', 'ingress port: send requests here', parsePort, 15080)
    .option('--admin-port <port>', 'control plane admin API port', parsePort, 15000)
    .option('--xds-port <port>', 'control plane discovery port', parsePort, 15010)
    .option('--data-dir <dir>', 'state and logs', '.weft/up')
    .action(async (meshFile: string, opts) => {
      const shown = relative(process.cwd(), meshFile) || meshFile;
      console.log(`weft up: starting the mesh in ${shown}`);
      let stopping = false;
      let mesh: LocalMesh | undefined;
      const starting = new AbortController();
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        console.log('\nstopping…');
        if (!mesh) {
          // Still starting: aborting stops whatever has started; the catch below exits.
          starting.abort(new Error('stopped during startup'));
          return;
        }
        await mesh.stop();
        console.log('stopped');
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const { MeshFileError, startLocalMesh } = await import('../up/local-mesh.ts');
      try {
        mesh = await startLocalMesh({
          meshFile,
          dataDir: opts.dataDir,
          ingressPort: opts.port,
          adminPort: opts.adminPort,
          xdsPort: opts.xdsPort,
          say: (line) => console.log(`  ${line}`),
          signal: starting.signal,
        });
      } catch (error) {
        if (starting.signal.aborted) {
          console.log('stopped');
          process.exit(0);
        }
        if (error instanceof MeshFileError) throw new UserError(error.message, error.details);
        throw error;
      }
      if (stopping) return;
      const rows = [...mesh.workloads, mesh.ingress].map((p) => [
        p.name,
        p.service,
        Object.entries(p.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '-',
        String(p.appPort ?? '-'),
        p.inboundPort ? `127.0.0.1:${p.inboundPort}` : '-',
        `127.0.0.1:${p.outboundPort}`,
        `127.0.0.1:${p.adminPort}`,
        String(p.sidecar.pid ?? '-'),
      ]);
      console.log('');
      console.log(formatTable(['WORKLOAD', 'SERVICE', 'LABELS', 'APP PORT', 'INBOUND', 'OUTBOUND', 'ADMIN', 'SIDECAR PID'], rows));
      const server = opts.adminPort === 15000 ? '' : ` --server ${mesh.adminUrl}`;
      const services = [...new Set(mesh.workloads.map((w) => w.service))];
      console.log(`\nThe mesh is up. Try:`);
      for (const service of services) console.log(`  curl -x http://127.0.0.1:${mesh.ingress.outboundPort} http://${service}/`);
      console.log(`  npx weft status${server}`);
      console.log(`  npx weft stat${server}    (and weft edges, weft tap web, weft trace <id>)`);
      console.log(`Dashboard: ${mesh.adminUrl}/`);
      console.log(`Logs: ${relative(process.cwd(), mesh.logDir) || mesh.logDir}/. Press Ctrl-C to stop.`);
      for (const p of [mesh.controlPlane, ...mesh.workloads.flatMap((w) => [w.sidecar, ...(w.app ? [w.app] : [])]), mesh.ingress.sidecar]) {
        p.exited.then(({ code, signal }) => {
          if (!stopping) console.log(`! ${p.name} exited (${signal ?? `code ${code}`}); see its log in ${mesh?.logDir}`);
        });
      }
    });
}
