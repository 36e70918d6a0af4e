// How one request through the sidecar ended, as data: what telemetry (access log, metrics)
// records and tests assert on. Filled in by whoever handles the request (outbound request,
// inbound forward, or the listener itself when it answers at once) and handed to the
// listener's onOutcome exactly once, when the request is over. The listener may hang its
// telemetry record on it (`telemetry`), which onOutcome then finishes.
import type { RequestRecord } from '../telemetry/request-record.ts';

/** Why a wanted retry was not made (a request that ends this way carries URX). */
export type RetryDenied = '' | 'attempts' | 'budget' | 'overflow';

export interface RequestOutcome {
  readonly direction: 'inbound' | 'outbound';
  readonly method: string;
  /** Route name ("namespace/route/rule"); '' when none matched or inbound. */
  readonly route: string;
  readonly cluster: string;
  /** Status sent downstream; 0 when none was (downstream gone first). */
  readonly status: number;
  /** Envoy response flags, comma-separated ("UF,URX"); '' for a clean pass-through. */
  readonly flags: string;
  /** grpc-status of a gRPC response ('' otherwise). Nothing sets it until the sidecar
   * proxies gRPC (issue 4 reads it from the trailers); telemetry labels requests with it. */
  readonly grpcStatus: string;
  /** Attempts made upstream (0 when the sidecar answered without one). */
  readonly attempts: number;
  /** Address of the last attempt's endpoint; '' when none. */
  readonly upstreamAddress: string;
  /** performance.now() when the request arrived. */
  readonly startMs: number;
  readonly durationMs: number;
  /** The committed attempt's time from dispatch to response headers; -1 when none. */
  readonly upstreamMs: number;
  /** Time from arrival to the upstream's response headers; -1 when none came. */
  readonly responseStartMs: number;
  /** Response body bytes sent downstream (the upstream's, or a synthetic answer's). */
  readonly responseBytes: number;
  readonly retryDenied: RetryDenied;
  /** This request's telemetry record; undefined when telemetry is off. onOutcome takes it
   * off when it has finished it (a finished record may serve another request). */
  telemetry: RequestRecord | undefined;
}

export type OutcomeListener = (outcome: RequestOutcome) => void;

export class Outcome implements RequestOutcome {
  readonly direction: 'inbound' | 'outbound';
  readonly method: string;
  readonly startMs: number;
  route = '';
  cluster = '';
  status = 0;
  flags = '';
  grpcStatus = '';
  attempts = 0;
  upstreamAddress = '';
  durationMs = 0;
  upstreamMs = -1;
  responseStartMs = -1;
  responseBytes = 0;
  retryDenied: RetryDenied = '';
  telemetry: RequestRecord | undefined = undefined;

  constructor(direction: 'inbound' | 'outbound', method: string, startMs: number) {
    this.direction = direction;
    this.method = method;
    this.startMs = startMs;
  }

  addFlag(flag: string): void {
    this.flags = this.flags === '' ? flag : `${this.flags},${flag}`;
  }

  end(now: number): void {
    this.durationMs = now - this.startMs;
  }
}
