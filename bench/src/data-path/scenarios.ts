// The data-path scenarios, in the order each round runs them. Ids are what --only takes.
import { APP_PATHS } from '../peers/nginx-app.ts';

export type ScenarioKind =
  /** No traffic: memory of a freshly started topology (first round only). */
  | 'idle'
  /** wrk, closed loop: `connections` connections, each sending as fast as answered. */
  | 'closed'
  /** h2load --h1 --rps: a fixed request rate, latency and CPU at that rate. */
  | 'paced'
  /** h2load over cleartext HTTP/2 (prior knowledge), `connections` × `streams`. */
  | 'h2'
  /** No traffic: each process's peak RSS (VmHWM) over the whole run, taken at the end. */
  | 'peak';

export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly kind: ScenarioKind;
  readonly path: string;
  readonly connections: number;
  /** h2: concurrent streams per connection. */
  readonly streams?: number;
  /** paced: requests per second per connection. */
  readonly ratePerConnection?: number;
  /** h2: send a gRPC unary call (POST, application/grpc, te: trailers). */
  readonly grpc?: boolean;
  /** What the tables show for it (samples may carry more). */
  readonly metrics: readonly string[];
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'idle',
    title: 'Idle memory, fresh (before any load)',
    kind: 'idle',
    path: APP_PATHS.tiny,
    connections: 0,
    metrics: ['rss.a', 'rss.b', 'rss.app'],
  },
  {
    id: 'h1-c64',
    title: 'HTTP/1.1 saturation, 64 connections, 2-byte body',
    kind: 'closed',
    path: APP_PATHS.tiny,
    connections: 64,
    metrics: ['rps', 'p50', 'p99', 'cpu.a', 'cpu.b', 'cpu.app', 'rssPeak.a', 'rssPeak.b'],
  },
  {
    id: 'h1-c8',
    title: 'HTTP/1.1 closed-loop latency, 8 connections',
    kind: 'closed',
    path: APP_PATHS.tiny,
    connections: 8,
    metrics: ['rps', 'p50', 'p90', 'p99'],
  },
  {
    id: 'h1-paced-1k',
    title: 'HTTP/1.1 paced at 1,000 req/s (10 connections × 100 req/s)',
    kind: 'paced',
    path: APP_PATHS.tiny,
    connections: 10,
    ratePerConnection: 100,
    metrics: ['rps', 'p50', 'p90', 'p99', 'cpu.a', 'cpu.b', 'cpuPer1k.a', 'cpuPer1k.b'],
  },
  {
    id: 'h1-1k-c64',
    title: 'HTTP/1.1, 1 KiB responses, 64 connections',
    kind: 'closed',
    path: APP_PATHS['1k'],
    connections: 64,
    metrics: ['rps', 'p50', 'p99', 'mibps'],
  },
  {
    id: 'h1-64k-c64',
    title: 'HTTP/1.1, 64 KiB responses, 64 connections',
    kind: 'closed',
    path: APP_PATHS['64k'],
    connections: 64,
    metrics: ['rps', 'p50', 'p99', 'mibps', 'rssPeak.a', 'rssPeak.b'],
  },
  {
    id: 'h2-c8x8',
    title: 'HTTP/2 (h2c), 8 connections × 8 streams',
    kind: 'h2',
    path: APP_PATHS.tiny,
    connections: 8,
    streams: 8,
    metrics: ['rps', 'p50', 'p99'],
  },
  {
    id: 'grpc-c8x8',
    title: 'gRPC unary (h2c), 8 connections × 8 streams',
    kind: 'h2',
    path: APP_PATHS.grpc,
    connections: 8,
    streams: 8,
    grpc: true,
    metrics: ['rps', 'p50', 'p99'],
  },
];

/** Not a load: measured once after the last round, shown with the others. */
export const PEAK_SCENARIO: Scenario = {
  id: 'peak',
  title: 'Peak memory over the whole run (VmHWM)',
  kind: 'peak',
  path: APP_PATHS.tiny,
  connections: 0,
  metrics: ['hwm.a', 'hwm.b', 'hwm.app'],
};

/** Ids matching any pattern: an exact id, or a glob with `*` ("h1-*"). */
export function matchIds(ids: readonly string[], patterns: readonly string[]): string[] {
  const regexes = patterns.map((p) => new RegExp(`^${p.split('*').map(escapeRegex).join('.*')}$`));
  return ids.filter((id) => regexes.some((r) => r.test(id)));
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
