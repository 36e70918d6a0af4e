// Starts the app and the selected topologies in front of it, all pinned to the server
// CPUs, and describes each as a Topology. Stopping is the OwnedProcesses' job.
import { startHaproxyPair } from '../peers/haproxy-pair.ts';
import { type NginxApp, startNginxApp } from '../peers/nginx-app.ts';
import { APP_H2_SERVICE, APP_SERVICE, startWeftPair, type WeftHop, type WeftSecurity } from '../peers/weft-pair.ts';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import type { Topology, TopologyName } from './topology.ts';

export interface StartOptions {
  readonly dir: string;
  readonly logDir: string;
  readonly serverCpus: string | undefined;
  readonly weftSecurity: WeftSecurity;
  readonly cpuProfDir: string | undefined;
}

export interface StartedTopologies {
  readonly app: NginxApp;
  readonly topologies: readonly Topology[];
  /** How the Weft hop ran, when Weft was started. */
  readonly weftHop?: WeftHop;
}

export async function startTopologies(
  processes: OwnedProcesses,
  names: readonly TopologyName[],
  options: StartOptions,
  say: (line: string) => void,
): Promise<StartedTopologies> {
  const app = await startNginxApp(processes, options.dir, options.serverCpus, options.logDir);
  const appPid = app.child.pid as number;
  say(`nginx app: HTTP/1.1 on ${app.h1Port}, h2c on ${app.h2Port} (pid ${appPid})`);
  const topologies: Topology[] = [];
  let weftHop: WeftHop | undefined;
  for (const name of names) {
    if (name === 'direct') {
      topologies.push({ name, label: 'direct to the app', h1: { port: app.h1Port }, h2: { port: app.h2Port }, pids: { app: appPid } });
    } else if (name === 'haproxy') {
      const pair = await startHaproxyPair(processes, options.dir, app, options.serverCpus, options.logDir);
      topologies.push({
        name,
        label: 'HAProxy pair, mTLS between (TLS 1.3, RSA-2048)',
        h1: { port: pair.h1Port },
        h2: { port: pair.h2Port },
        pids: { a: pair.a.pid as number, b: pair.b.pid as number, app: appPid },
      });
      say(`haproxy pair: entry ${pair.h1Port} (h1), ${pair.h2Port} (h2c)`);
    } else {
      const pair = await startWeftPair(processes, {
        dir: options.dir,
        logDir: options.logDir,
        appPort: app.h1Port,
        appH2Port: app.h2Port,
        cpus: options.serverCpus,
        security: options.weftSecurity,
        cpuProfDir: options.cpuProfDir,
      });
      weftHop = pair.hop;
      topologies.push({
        name,
        label: pair.hop.kind === 'mtls' ? 'Weft sidecar pair, mTLS between' : 'Weft sidecar pair, PLAINTEXT between (no mTLS yet)',
        h1: { port: pair.outboundPort, host: APP_SERVICE },
        // HTTP/2 goes to nginx's h2c port, beside which runs a second server-side sidecar.
        h2: {
          port: pair.outboundPort,
          authority: APP_H2_SERVICE,
          pids: { a: pair.a.pid as number, b: pair.bH2.pid as number, app: appPid },
        },
        pids: { a: pair.a.pid as number, b: pair.b.pid as number, app: appPid },
      });
      say(`weft pair: outbound ${pair.outboundPort} (h1 and h2c), control plane ${pair.adminUrl}, hop ${pair.hop.kind}`);
    }
  }
  return { app, topologies, ...(weftHop ? { weftHop } : {}) };
}
