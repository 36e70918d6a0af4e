// Readiness of a peer we started: something accepts on its port, or the peer exited
// (port taken, bad config) and the error shows its last output.
import type { Child } from '@weft/cli/child-process';
import { waitForPort } from '@weft/cli/free-port';

export async function waitListening(child: Child, ports: readonly number[], timeoutMs = 30_000): Promise<void> {
  const exited = child.exited.then(({ code, signal }) => {
    throw new Error(`${child.name} exited (${signal ?? `code ${code}`}) before listening\n${child.recentOutput()}`);
  });
  try {
    await Promise.race([Promise.all(ports.map((p) => waitForPort(p, timeoutMs))), exited]);
  } catch (error) {
    const state = child.running ? 'still running' : 'exited';
    throw new Error(
      `${child.name} (pid ${child.pid}, ${state}) on ports ${ports.join(', ')}: ${(error as Error).message}\n${child.recentOutput()}`,
    );
  } finally {
    void exited.catch(() => undefined);
  }
}
