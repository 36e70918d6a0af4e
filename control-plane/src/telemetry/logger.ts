// The control plane's root logger: JSON lines on stdout, secrets redacted by path.
import { type Logger, pino } from 'pino';

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'weft-control-plane',
    level: options.level ?? process.env['WEFT_LOG_LEVEL'] ?? 'info',
    redact: { paths: ['*.privateKey', '*.key', '*.token', 'token', 'privateKey'], censor: '[redacted]' },
    base: { pid: process.pid },
  });
}
