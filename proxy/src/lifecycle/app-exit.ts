// Tells when the app beside the sidecar has gone, so a draining sidecar can stop as soon as
// nothing needs it instead of always waiting out the grace period. The app has gone when its
// port refuses connections and it holds no connection to the outbound listener: an app still
// draining keeps its outbound pool open, and an exited process has closed both. (On
// Kubernetes the kubelet stops a native sidecar only after the app, so this ends at once.)
import { connect, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface AppExitWatch {
  /** The app's port on 127.0.0.1; without one, only outbound connections count. */
  readonly appPort: number | undefined;
  readonly outbound: Server;
  readonly pollMs?: number;
}

/** Resolves 'exited' once the app has gone, or 'timeout' after `graceMs`. */
export async function waitForAppExit(watch: AppExitWatch, graceMs: number): Promise<'exited' | 'timeout'> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    if (await appHasExited(watch)) return 'exited';
    const left = deadline - Date.now();
    if (left <= 0) return 'timeout';
    await sleep(Math.min(watch.pollMs ?? 100, left));
  }
}

async function appHasExited(watch: AppExitWatch): Promise<boolean> {
  const open = await new Promise<number>((resolve) => watch.outbound.getConnections((error, count) => resolve(error ? 1 : count)));
  if (open > 0) return false;
  return watch.appPort === undefined || !(await accepts(watch.appPort));
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    // A timeout means something holds the port but is too busy to accept: not gone.
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
