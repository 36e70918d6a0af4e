// Opaque TCP to a mesh cluster: picks an endpoint with the cluster's load balancer (another
// one after a connect failure, reported to the outlier detector), opens the mTLS hop
// (mesh-tunnel.ts) and splices it with the client's connection. Used by the local TCP ports
// (outbound/tcp-listeners.ts) and CONNECT tunnels (outbound/outbound-tunnels.ts); what
// the client connection is and who chose the cluster is theirs.
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Credentials } from '@weft/certs';
import type { Cluster } from '../cluster/cluster.ts';
import type { Host } from '../cluster/host.ts';
import { openMeshTunnel } from './mesh-tunnel.ts';
import { type SpliceResult, splice } from './splice.ts';

/** Endpoints tried per connection before giving up. */
const MAX_TRIES = 3;
/** Idle time after which a tunnel is closed (Envoy's tcp_proxy idle_timeout: 1 h). */
export const TCP_IDLE_TIMEOUT_MS = 3_600_000;

export type OpenResult =
  | { readonly ok: true; readonly socket: TLSSocket; readonly host: Host }
  | { readonly ok: false; readonly code: string; readonly message: string };

export class TcpProxy {
  readonly #credentials: Credentials;
  readonly #idleTimeoutMs: number;

  constructor(credentials: Credentials, idleTimeoutMs = TCP_IDLE_TIMEOUT_MS) {
    this.#credentials = credentials;
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** Opens the mTLS hop to one of `cluster`'s endpoints. */
  open(cluster: Cluster, done: (result: OpenResult) => void): void {
    let tried: Host[] | undefined;
    let last: OpenResult = { ok: false, code: 'UH', message: `no endpoint available for "${cluster.name}"` };
    const attempt = () => {
      const host = (tried?.length ?? 0) < MAX_TRIES ? cluster.lb.pick(-1, tried) : undefined;
      if (!host) {
        done(last);
        return;
      }
      openMeshTunnel(this.#credentials, host.address, host.identity, cluster.spec.pool.connectTimeoutMs, (result) => {
        if (result.ok) {
          done({ ok: true, socket: result.socket, host });
          return;
        }
        cluster.outlier.reportFailure(host);
        last = { ok: false, code: result.code, message: `${host.address}: ${result.message}` };
        tried ??= [];
        tried.push(host);
        attempt();
      });
    };
    attempt();
  }

  /** Joins the client with an opened hop until either side ends. */
  join(client: Duplex, tunnel: Duplex, onClose: (result: SpliceResult) => void): void {
    splice(client, tunnel, { idleTimeoutMs: this.#idleTimeoutMs, onClose });
  }
}
