// The access log: one pino JSON line per request (a sampled share of them), independent of
// --log-level. Lines collect in memory and go out in chunks of up to 32 KiB (at least every
// 200 ms) through one asynchronous destination (stdout shared with the sidecar's own log, or
// a file): a write per line costs a syscall and a thread-pool hop per request, which at
// thousands of requests a second was most of telemetry's price.
import { type DestinationStream, type Logger, pino } from 'pino';
import type { RequestRecord } from './request-record.ts';

export interface AccessLogOptions {
  /** 'stdout' (the sidecar log's destination), 'off', or a file path. */
  readonly target: string;
  /** Share of requests logged, 0–1. */
  readonly sampleRate: number;
}

const CHUNK_BYTES = 32 * 1024;
const FLUSH_MS = 200;

export class AccessLog {
  readonly #log: Logger;
  readonly #rate: number;
  readonly #out: DestinationStream;
  readonly #timer: NodeJS.Timeout;
  #pending = '';
  /** Requests not logged because of sampling. */
  sampledOut = 0;

  constructor(options: AccessLogOptions, stdout: DestinationStream) {
    this.#out = options.target === 'stdout' ? stdout : pino.destination({ dest: options.target, sync: false, mkdir: true });
    const collect: DestinationStream = {
      write: (line: string) => {
        this.#pending += line;
        if (this.#pending.length >= CHUNK_BYTES) this.flush();
      },
    };
    this.#log = pino({ base: null, level: 'info' }, collect);
    this.#rate = options.sampleRate;
    this.#timer = setInterval(() => this.flush(), FLUSH_MS);
    this.#timer.unref();
    // Whatever is still collected goes out with the process, synchronously at that point.
    process.once('exit', () => {
      this.flush();
      try {
        (this.#out as { flushSync?: () => void }).flushSync?.();
      } catch {
        // A write still in flight: sonic-boom finishes it itself.
      }
    });
  }

  write(r: RequestRecord): void {
    if (this.#rate < 1 && Math.random() >= this.#rate) {
      this.sampledOut += 1;
      return;
    }
    this.#log.info(
      {
        log: 'access',
        direction: r.direction,
        start: new Date(r.startUnixMs).toISOString(),
        method: r.method,
        authority: r.authority,
        path: r.path,
        status: r.status,
        response_flags: r.responseFlags || '-',
        grpc_status: r.grpcStatus || undefined,
        duration_ms: round(r.durationMs),
        response_start_ms: r.responseStartMs < 0 ? undefined : round(r.responseStartMs),
        request_bytes: r.requestBytes,
        response_bytes: r.responseBytes,
        upstream: r.upstreamAddress || undefined,
        attempts: r.attempts,
        route: r.route || undefined,
        source: r.sourceService,
        source_version: r.sourceVersion || undefined,
        source_identity: r.sourceIdentity || undefined,
        destination: r.destinationService,
        destination_version: r.destinationVersion || undefined,
        destination_identity: r.destinationIdentity || undefined,
        trace_id: r.traceId,
        span_id: r.spanId,
        request_id: r.requestId || undefined,
      },
      'request',
    );
  }

  /** Hands the collected lines to the destination as one write (whole lines only). */
  flush(): void {
    if (this.#pending === '') return;
    const chunk = this.#pending;
    this.#pending = '';
    this.#out.write(chunk);
  }

  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
