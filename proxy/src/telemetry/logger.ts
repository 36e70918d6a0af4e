// The sidecar's root logger: JSON lines on stdout. Components take log.child({component}).
import { type Logger, pino } from 'pino';

export function createLogger(options: { level?: string | undefined } = {}): Logger {
  return pino({
    name: 'weft-proxy',
    level: options.level ?? process.env['WEFT_LOG_LEVEL'] ?? 'info',
    redact: { paths: ['*.privateKey', '*.key', '*.token', 'token', 'privateKey'], censor: '[redacted]' },
    base: { pid: process.pid },
  });
}
