// The access log: one pino JSON line per request (a sampled share of them), independent of
// --log-level. Lines go to an asynchronous destination (stdout shared with the sidecar's
// own log, or a file), so the request path never waits for a write.
import { type DestinationStream, type Logger, pino } from 'pino';
import type { RequestRecord } from './request-record.ts';

export interface AccessLogOptions {
  /** 'stdout' (the sidecar log's destination), 'off', or a file path. */
  readonly target: string;
  /** Share of requests logged, 0–1. */
  readonly sampleRate: number;
}

export class AccessLog {
  readonly #log: Logger;
  readonly #rate: number;
  /** Requests not logged because of sampling. */
  sampledOut = 0;

  constructor(options: AccessLogOptions, stdout: DestinationStream) {
    const destination =
      options.target === 'stdout' ? stdout : pino.destination({ dest: options.target, sync: false, mkdir: true });
    this.#log = pino({ base: null, level: 'info' }, destination);
    this.#rate = options.sampleRate;
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

  flush(): void {
    this.#log.flush();
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
