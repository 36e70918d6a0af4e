// Free loopback ports for peers whose config files need a number (nginx, HAProxy). Weft's
// processes take port 0 and report theirs instead. The ports come from above the kernel's
// ephemeral range, so no outgoing connection (ours: 64 from wrk; or another program's)
// can hold one between our check and the peer's bind.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const handedOut = new Set<number>();

function ephemeralMax(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[1]) || 60999;
  } catch {
    return 60999;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` distinct free ports, never one handed out before in this run. */
export async function freePorts(count: number): Promise<number[]> {
  const low = Math.min(ephemeralMax() + 1, 64_000);
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt > 1000) throw new Error(`no free port between ${low} and 65535`);
    const port = low + Math.floor(Math.random() * (65_536 - low));
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    ports.push(port);
  }
  return ports;
}
