// Recent traces by id, for `weft trace` and the dashboard: bounded by trace count (the
// oldest trace leaves first) and by spans per trace. In memory; an OTLP backend is where
// traces are kept.
import type { RequestView } from './request-view.ts';

export interface TraceSummary {
  readonly traceId: string;
  readonly startUnixMs: number;
  readonly durationMs: number;
  readonly spans: number;
  readonly root: string;
  readonly services: readonly string[];
  readonly error: boolean;
}

export class TraceStore {
  readonly #traces = new Map<string, RequestView[]>();
  readonly #maxTraces: number;
  readonly #maxSpansPerTrace: number;
  droppedSpans = 0;

  constructor(options: { maxTraces?: number; maxSpansPerTrace?: number } = {}) {
    this.#maxTraces = options.maxTraces ?? 10_000;
    this.#maxSpansPerTrace = options.maxSpansPerTrace ?? 1000;
  }

  add(span: RequestView): void {
    let spans = this.#traces.get(span.traceId);
    if (!spans) {
      spans = [];
      this.#traces.set(span.traceId, spans);
      if (this.#traces.size > this.#maxTraces) {
        const oldest = this.#traces.keys().next().value as string;
        this.#traces.delete(oldest);
      }
    }
    if (spans.length >= this.#maxSpansPerTrace) {
      this.droppedSpans += 1;
      return;
    }
    spans.push(span);
  }

  get(traceId: string): readonly RequestView[] | undefined {
    const spans = this.#traces.get(traceId.toLowerCase());
    return spans ? [...spans].sort((a, b) => a.startUnixMs - b.startUnixMs) : undefined;
  }

  /** The newest traces first, optionally those touching one service. */
  recent(limit: number, service?: string): TraceSummary[] {
    const out: TraceSummary[] = [];
    const ids = [...this.#traces.keys()].reverse();
    for (const id of ids) {
      const spans = this.#traces.get(id) as RequestView[];
      const services = [...new Set(spans.flatMap((s) => [s.source.service, s.destination.service]).filter((s) => s !== 'unknown'))];
      if (service && !services.includes(service)) continue;
      const start = Math.min(...spans.map((s) => s.startUnixMs));
      const end = Math.max(...spans.map((s) => s.startUnixMs + s.durationMs));
      const ids = new Set(spans.map((s) => s.spanId));
      const root = spans.find((s) => !s.parentSpanId || !ids.has(s.parentSpanId)) ?? (spans[0] as RequestView);
      out.push({
        traceId: id,
        startUnixMs: start,
        durationMs: end - start,
        spans: spans.length,
        root: `${root.destination.service} ${root.method} ${root.path}`,
        services: services.sort(),
        error: spans.some((s) => s.statusCode === 0 || s.statusCode >= 500),
      });
      if (out.length >= limit) break;
    }
    return out;
  }
}
