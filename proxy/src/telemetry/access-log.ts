// The access log: one JSON line per request (a sampled share of them), independent of
// --log-level, in the shape of the sidecar's pino log lines (level 30, time, fields, msg).
// Lines are written here by hand, not through a pino logger: pino's generic object
// serializer was 12 % of a sidecar's CPU at saturation. They collect in memory and go out
// in chunks of up to 32 KiB (at least every 200 ms) through one asynchronous destination
// (stdout shared with the sidecar's own log, or a file): a write per line costs a syscall
// and a thread-pool hop per request.
import { type DestinationStream, pino } from 'pino';
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
  readonly #rate: number;
  readonly #out: DestinationStream;
  readonly #timer: NodeJS.Timeout;
  /** Lines waiting, joined once per chunk (a flat string, not a deep chain of concatenations). */
  #lines: string[] = [];
  #pendingChars = 0;
  /** Requests not logged because of sampling. */
  sampledOut = 0;

  constructor(options: AccessLogOptions, stdout: DestinationStream) {
    this.#out = options.target === 'stdout' ? stdout : pino.destination({ dest: options.target, sync: false, mkdir: true });
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
    const line = accessLogLine(r, Date.now());
    this.#lines.push(line);
    this.#pendingChars += line.length;
    if (this.#pendingChars >= CHUNK_BYTES) this.flush();
  }

  /** Hands the collected lines to the destination as one write (whole lines only). */
  flush(): void {
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.join('');
    this.#lines = [];
    this.#pendingChars = 0;
    this.#out.write(chunk);
  }

  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}

/** One access log line, newline included; fields that do not apply are left out. */
export function accessLogLine(r: RequestRecord, nowMs: number): string {
  let line =
    `{"level":30,"time":${nowMs},"log":"access","direction":"${r.direction}","start":"${isoTime(r.startUnixMs)}"` +
    `,"method":${json(r.method)},"authority":${json(r.authority)},"path":${json(r.path)}` +
    `,"status":${r.status},"response_flags":${json(r.responseFlags || '-')}`;
  if (r.grpcStatus) line += `,"grpc_status":${json(r.grpcStatus)}`;
  line += `,"duration_ms":${round(r.durationMs)}`;
  if (r.responseStartMs >= 0) line += `,"response_start_ms":${round(r.responseStartMs)}`;
  line += `,"request_bytes":${r.requestBytes},"response_bytes":${r.responseBytes}`;
  if (r.upstreamAddress) line += `,"upstream":${json(r.upstreamAddress)}`;
  line += `,"attempts":${r.attempts}`;
  if (r.route) line += `,"route":${json(r.route)}`;
  line += `,"source":${json(r.sourceService)}`;
  if (r.sourceVersion) line += `,"source_version":${json(r.sourceVersion)}`;
  if (r.sourceIdentity) line += `,"source_identity":${json(r.sourceIdentity)}`;
  line += `,"destination":${json(r.destinationService)}`;
  if (r.destinationVersion) line += `,"destination_version":${json(r.destinationVersion)}`;
  if (r.destinationIdentity) line += `,"destination_identity":${json(r.destinationIdentity)}`;
  line += `,"trace_id":"${r.traceId}","span_id":"${r.spanId}"`;
  if (r.requestId) line += `,"request_id":${json(r.requestId)}`;
  return `${line},"msg":"request"}\n`;
}

/** A JSON string: most values (names, ids, addresses) need no escaping, and skip
 * JSON.stringify's general path. */
function json(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return JSON.stringify(value);
  }
  return `"${value}"`;
}

/** toISOString() of a time in ms, from a prefix cached for the second it falls in. */
let isoSecond = Number.NaN;
let isoPrefix = '';
function isoTime(unixMs: number): string {
  const whole = Math.floor(unixMs);
  const second = Math.floor(whole / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "2026-11-25T12:00:00."
  }
  const ms = whole - second * 1000;
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
