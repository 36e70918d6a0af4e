// A topology is one way for the load generator to reach the app: straight to it, through
// a Weft sidecar pair, or through an HAProxy pair. Roles name the processes measured:
// `a` is the client-side proxy, `b` the server-side proxy, `app` the nginx app.

export const TOPOLOGY_NAMES = ['direct', 'weft', 'haproxy'] as const;
export type TopologyName = (typeof TOPOLOGY_NAMES)[number];

export const ROLES = ['a', 'b', 'app'] as const;
export type Role = (typeof ROLES)[number];

export interface Topology {
  readonly name: TopologyName;
  /** What it is, including how the proxy-to-proxy hop is secured. */
  readonly label: string;
  /** HTTP/1.1 entry point; `host` is the Host header requests need there. */
  readonly h1: { readonly port: number; readonly host?: string };
  /** Cleartext HTTP/2 entry point, or why this topology has none yet; `pids` when other
   * processes than `pids` carry it (Weft's server-side sidecar for the h2c app). */
  readonly h2:
    | { readonly port: number; readonly authority?: string; readonly pids?: Readonly<Partial<Record<Role, number>>> }
    | { readonly unsupported: string };
  readonly pids: Readonly<Partial<Record<Role, number>>>;
}
