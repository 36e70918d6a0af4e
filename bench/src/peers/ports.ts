// Free loopback ports for peers whose config files need a number (nginx, HAProxy). Weft's
// processes take port 0 and report theirs instead.
import { freePort } from '@weft/cli/free-port';

const handedOut = new Set<number>();

/** `count` distinct free ports, never one handed out before in this run. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    ports.push(port);
  }
  return ports;
}
