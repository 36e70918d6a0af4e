// The outbound side of opaque TCP: a local port per tcp service, where every connection is
// proxied to the service's cluster over mTLS (tcp/tcp-proxy.ts). Ports come from the
// config (a TCP Listener per tcp service this workload calls, on the service's port) and
// from `--upstream service=host:port` flags; a flag wins over the config for its service.
// Config listeners are bound before an update is applied: a port that cannot be bound
// refuses the whole update (NACK naming listener and port) and the old listeners stay.
// Removing a listener stops new connections; open ones carry on.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { resetAndDestroy } from '../tcp/splice.ts';
import type { TcpProxy } from '../tcp/tcp-proxy.ts';
import type { AppliedConfig } from '../xds/applied-config.ts';
import type { ListenerSpec } from '../xds/resources/listener.ts';

export interface TcpListenersOptions {
  readonly config: AppliedConfig;
  readonly proxy: TcpProxy;
  readonly log: Logger;
  /** This workload's namespace: `--upstream name=` means name in it. */
  readonly namespace: string;
  /** On-demand discovery: asks for a service the sidecar has no cluster for yet. */
  readonly onDemand?: ((host: string) => Promise<void> | undefined) | undefined;
  /** Called for every server opened (telemetry counts its connections). */
  readonly watch?: ((server: Server) => void) | undefined;
}

/** A `--upstream` flag, parsed. */
export interface StaticUpstream {
  readonly service: string;
  readonly namespace: string;
  readonly host: string;
  readonly port: number;
}

interface Entry {
  readonly name: string;
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** The cluster connections go to; a config update may change it in place. */
  cluster: string;
  /** What to ask on-demand discovery for when the cluster is not known yet. */
  readonly discoveryHost: string;
}

export function parseUpstreamFlag(flag: string, namespace: string): StaticUpstream {
  const eq = flag.indexOf('=');
  const name = flag.slice(0, eq);
  const address = flag.slice(eq + 1);
  const dot = name.indexOf('.');
  const colon = address.lastIndexOf(':');
  return {
    service: dot < 0 ? name : name.slice(0, dot),
    namespace: dot < 0 ? namespace : name.slice(dot + 1),
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
  };
}

export class TcpListeners {
  readonly #options: TcpListenersOptions;
  readonly #log: Logger;
  /** From flags, for the sidecar's life. */
  readonly #static: Entry[] = [];
  /** From config, by listener name. */
  #dynamic = new Map<string, Entry>();
  /** Listener updates are prepared one at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: TcpListenersOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'tcp' });
  }

  /** Opens the `--upstream` ports; throws (a startup error) when one cannot be bound. */
  async bindStatic(upstreams: readonly StaticUpstream[]): Promise<void> {
    for (const u of upstreams) {
      const name = `--upstream ${u.service}.${u.namespace}`;
      const cluster = `${u.service}.${u.namespace}`;
      const bound = await this.#bind(name, u.host, u.port, cluster, `${u.service}.${u.namespace}`);
      if (typeof bound === 'string') throw new Error(`--upstream ${u.service}=${u.host}:${u.port}: ${bound}`);
      this.#static.push(bound);
    }
  }

  /** Ports of the listeners open now, by name (flags and config). */
  get ports(): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    for (const e of [...this.#static, ...this.#dynamic.values()]) out.set(e.name, (e.server.address() as { port: number }).port);
    return out;
  }

  /** AppliedConfig's prepareListeners: binds what `specs` add; the NACK text or the commit. */
  prepare = (specs: readonly ListenerSpec[]): Promise<string | (() => void)> | undefined => {
    const wanted = specs.filter((s) => s.tcp !== undefined && !this.#static.some((e) => e.cluster === s.tcp?.cluster));
    const unchanged = wanted.every((s) => this.#dynamic.get(s.name)?.port === s.tcp?.port);
    if (unchanged && wanted.length === this.#dynamic.size) {
      if (wanted.every((s) => this.#dynamic.get(s.name)?.cluster === s.tcp?.cluster)) return undefined;
    }
    const next = this.#queue.then(() => this.#prepare(wanted));
    this.#queue = next;
    return next;
  };

  async #prepare(wanted: readonly ListenerSpec[]): Promise<string | (() => void)> {
    const opened: Entry[] = [];
    for (const spec of wanted) {
      const tcp = spec.tcp as { cluster: string; port: number };
      if (this.#dynamic.get(spec.name)?.port === tcp.port) continue;
      const bound = await this.#bind(spec.name, '127.0.0.1', tcp.port, tcp.cluster, discoveryHostOf(tcp.cluster));
      if (typeof bound === 'string') {
        for (const e of opened) e.server.close();
        return `Listener "${spec.name}": port: ${bound}`;
      }
      opened.push(bound);
    }
    return () => {
      const next = new Map<string, Entry>();
      for (const spec of wanted) {
        const tcp = spec.tcp as { cluster: string; port: number };
        const entry = opened.find((e) => e.name === spec.name) ?? (this.#dynamic.get(spec.name) as Entry);
        entry.cluster = tcp.cluster;
        next.set(spec.name, entry);
      }
      for (const [name, entry] of this.#dynamic) {
        if (next.get(name) === entry) continue;
        entry.server.close();
        this.#log.info({ listener: name, port: entry.port }, 'opaque TCP listener closed');
      }
      for (const e of opened) this.#log.info({ listener: e.name, port: e.port, cluster: e.cluster }, 'opaque TCP listener open');
      this.#dynamic = next;
    };
  }

  /** The server for one listener, listening; or why it cannot listen. */
  async #bind(name: string, host: string, port: number, cluster: string, discoveryHost: string): Promise<Entry | string> {
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    const entry: Entry = { name, server, host, port, cluster, discoveryHost };
    server.on('connection', (socket: Socket) => this.#accept(entry, socket));
    server.listen(port, host);
    try {
      await once(server, 'listening');
    } catch (error) {
      return `cannot listen on ${host}:${port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    }
    this.#options.watch?.(server);
    return entry;
  }

  #accept(entry: Entry, socket: Socket, asked = false): void {
    socket.on('error', () => socket.destroy());
    const cluster = this.#options.config.clusters.get(entry.cluster);
    if (!cluster) {
      const waiting = asked ? undefined : this.#options.onDemand?.(entry.discoveryHost);
      if (waiting) {
        socket.pause();
        waiting.then(() => {
          if (!socket.destroyed) this.#accept(entry, socket, true);
        });
        return;
      }
      this.#log.warn(
        { listener: entry.name, cluster: entry.cluster, peer: socket.remoteAddress },
        'opaque TCP connection refused: unknown cluster',
      );
      socket.destroy();
      return;
    }
    socket.pause();
    this.#options.proxy.open(cluster, (result) => {
      if (!result.ok) {
        this.#log.warn(
          { listener: entry.name, cluster: entry.cluster, code: result.code, reason: result.message },
          'opaque TCP connection failed',
        );
        resetAndDestroy(socket);
        return;
      }
      if (socket.destroyed) {
        result.socket.destroy();
        return;
      }
      this.#options.proxy.join(socket, result.socket, () => {});
    });
  }

  close(): void {
    for (const e of [...this.#static, ...this.#dynamic.values()]) e.server.close();
  }
}

/** `orders-db.default` → the host on-demand discovery knows it by. */
function discoveryHostOf(cluster: string): string {
  const tilde = cluster.indexOf('~');
  return tilde < 0 ? cluster : cluster.slice(0, tilde);
}
