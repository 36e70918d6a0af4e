// Bounded polling for conditions that have no event to wait on.
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  describe: () => string = () => 'condition',
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
    await sleep(intervalMs);
  }
}
