// The load generator command lines, one per scenario kind. wrk for closed-loop HTTP/1.1
// (it reports a latency distribution); h2load for paced HTTP/1.1 (wrk cannot pace, and
// hey prints latencies to 0.1 ms only) and for HTTP/2 and gRPC. Each uses one thread:
// it is pinned to one core.

export interface Command {
  readonly command: string;
  readonly args: readonly string[];
}

export interface Target {
  readonly port: number;
  readonly path: string;
  /** Host header (HTTP/1.1) or :authority (HTTP/2) when the entry point routes by it. */
  readonly host?: string | undefined;
}

const url = (t: Target) => `http://127.0.0.1:${t.port}${t.path}`;

export function wrkCommand(target: Target, connections: number, durationS: number): Command {
  const host = target.host ? ['-H', `Host: ${target.host}`] : [];
  return { command: 'wrk', args: ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', '--timeout', '5s', ...host, url(target)] };
}

/** `logFile`: h2load's per-request log, where the latencies are; undefined when only the
 * counts are wanted (bench/ab). */
export function pacedCommand(
  target: Target,
  connections: number,
  ratePerConnection: number,
  durationS: number,
  logFile: string | undefined,
): Command {
  // h2load sends `host: x` as a second Host header; :authority replaces its own.
  const host = target.host ? ['-H', `:authority: ${target.host}`] : [];
  const log = logFile ? [`--log-file=${logFile}`] : [];
  return {
    command: 'h2load',
    args: ['--h1', '-t1', `-c${connections}`, `--rps=${ratePerConnection}`, `-D${durationS}`, ...log, ...host, url(target)],
  };
}

/** hey paces too (-q per worker), but prints latencies to 0.1 ms only: a cross-check. */
export function heyPacedCommand(target: Target, connections: number, ratePerConnection: number, durationS: number): Command {
  const host = target.host ? ['-host', target.host] : [];
  return {
    command: 'hey',
    args: ['-z', `${durationS}s`, '-c', String(connections), '-q', String(ratePerConnection), ...host, url(target)],
  };
}

export function h2Command(
  target: Target,
  connections: number,
  streams: number,
  durationS: number,
  logFile: string | undefined,
  grpcBodyFile?: string,
): Command {
  const authority = target.host ? ['-H', `:authority: ${target.host}`] : [];
  const grpc = grpcBodyFile ? ['-d', grpcBodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers'] : [];
  const log = logFile ? [`--log-file=${logFile}`] : [];
  return {
    command: 'h2load',
    args: ['-t1', `-c${connections}`, `-m${streams}`, `-D${durationS}`, ...log, ...authority, ...grpc, url(target)],
  };
}
