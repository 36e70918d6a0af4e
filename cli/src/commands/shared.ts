// Helpers shared by the commands: flag parsers and the long-running process lifecycle.
import { InvalidArgumentError } from 'commander';

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0–65535');
  return n;
}

/** Collects repeated `--label k=v` flags. */
export function collectLabel(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`"${value}" is not key=value`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Error types the commands print without a stack: startup and usage problems. */
export class UserError extends Error {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.details = details;
  }
}

/** Starts a service and keeps the process alive until SIGINT or SIGTERM, then closes it; or
 * until the service stops by itself (a sidecar's POST /shutdown). A second signal, or a close
 * that takes longer than `forceExitAfterMs`, ends the process at once. */
export async function runUntilSignal(
  start: () => Promise<{ close(): Promise<void>; readonly closed?: Promise<void> }>,
  forceExitAfterMs = 15_000,
): Promise<void> {
  const service = await start();
  const signalled = await new Promise<boolean>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(true);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    service.closed?.then(() => resolve(false));
  });
  if (!signalled) return;
  const forced = setTimeout(() => process.exit(1), forceExitAfterMs);
  forced.unref();
  await service.close();
}
