// `weft trace <trace-id>`: one request's hops (a span per sidecar and direction) as a tree
// with their start offsets and durations.
import type { Command } from 'commander';
import { adminRequest, DEFAULT_SERVER } from '../admin-client.ts';
import { millis } from '../output/mesh-format.ts';
import { formatTable } from '../output/table.ts';
import { UserError } from './shared.ts';

interface Span {
  spanId: string;
  parentSpanId: string;
  nodeId: string;
  direction: 'inbound' | 'outbound';
  startUnixMs: number;
  durationMs: number;
  method: string;
  path: string;
  statusCode: number;
  responseFlags: string;
  upstreamAddress: string;
  source: { service: string };
  destination: { service: string; version: string };
}

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description("one request's hops through the mesh, with timings")
    .argument('<trace-id>', 'the 32-hex-digit trace id (from traceparent, an access log line or weft tap)')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (traceId: string, opts) => {
      if (!/^[0-9a-fA-F]{32}$/.test(traceId)) throw new UserError(`"${traceId}" is not a trace id (32 hex digits)`);
      const trace = await adminRequest<{ traceId: string; spans: Span[] }>(opts.server, `/api/traces/${traceId}`);
      if (opts.output === 'json') {
        console.log(JSON.stringify(trace, null, 2));
        return;
      }
      const spans = trace.spans;
      const start = Math.min(...spans.map((s) => s.startUnixMs));
      const end = Math.max(...spans.map((s) => s.startUnixMs + s.durationMs));
      const ids = new Set(spans.map((s) => s.spanId));
      const children = new Map<string, Span[]>();
      const roots: Span[] = [];
      for (const s of spans) {
        if (s.parentSpanId && ids.has(s.parentSpanId)) {
          const list = children.get(s.parentSpanId) ?? [];
          list.push(s);
          children.set(s.parentSpanId, list);
        } else roots.push(s);
      }
      const rows: string[][] = [];
      const visit = (s: Span, depth: number) => {
        const hop =
          s.direction === 'inbound' ? `${s.destination.service} ← ${s.source.service}` : `${s.source.service} → ${s.destination.service}`;
        rows.push([
          `${'  '.repeat(depth)}${hop}`,
          s.direction,
          `${s.method} ${s.path}`,
          `${s.statusCode}${s.responseFlags ? ` ${s.responseFlags}` : ''}`,
          `+${millis(s.startUnixMs - start)}`,
          millis(s.durationMs),
          s.nodeId,
        ]);
        for (const child of (children.get(s.spanId) ?? []).sort((a, b) => a.startUnixMs - b.startUnixMs)) visit(child, depth + 1);
      };
      for (const root of roots) visit(root, 0);
      console.log(`trace ${trace.traceId}: ${spans.length} spans, ${millis(end - start)}\n`);
      console.log(formatTable(['HOP', 'DIRECTION', 'REQUEST', 'STATUS', 'START', 'DURATION', 'SIDECAR'], rows));
    });
}
