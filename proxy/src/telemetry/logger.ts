// The sidecar's root logger: JSON lines on stdout. Components take log.child({component}).
// The destination is asynchronous (pino flushes it on exit) and the access log shares it,
// so lines never interleave and the request path never waits for a write.
import { type DestinationStream, type Logger, pino } from 'pino';

export function createLogger(options: { level?: string | undefined } = {}): Logger {
  return pino(
    {
      name: 'weft-proxy',
      level: options.level ?? process.env['WEFT_LOG_LEVEL'] ?? 'info',
      redact: { paths: ['*.privateKey', '*.key', '*.token', 'token', 'privateKey'], censor: '[redacted]' },
      base: { pid: process.pid },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}

/** The stream a logger writes to, for other loggers that must not interleave with it. */
export function destinationOf(log: Logger): DestinationStream {
  return (log as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym] as DestinationStream;
}
