// Readiness of a peer we started: something accepts on its port, or the peer exited
// (port taken, bad config) and the error shows its last output.
import type { Child } from '@weft/cli/child-process';
import { waitForPort } from '@weft/cli/free-port';

export async function waitListening(child: Child, ports: readonly number[], timeoutMs = 15_000): Promise<void> {
  const exited = child.exited.then(({ code, signal }) => {
    throw new Error(`${child.name} exited (${signal ?? `code ${code}`}) before listening\n${child.recentOutput()}`);
  });
  await Promise.race([Promise.all(ports.map((p) => waitForPort(p, timeoutMs))), exited]);
  void exited.catch(() => undefined);
}
