// Where a TCP connection accepted by this process was going before iptables REDIRECT sent it
// here (SO_ORIGINAL_DST, read by the Node-API addon in original_dst.c). Loading the addon
// may fail (it was not built); callers then learn why once and treat every connection as
// addressed to them. Routing on the answer is the proxy's business, not this package's.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

export interface OriginalDestination {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Whether the addon loaded here; when not, why (shown once in the proxy's log). */
export type AddonState = { readonly available: true } | { readonly available: false; readonly reason: string };

interface Binding {
  originalDst(fd: number, family: 4 | 6): OriginalDestination | null;
}

export const ADDON_PATH = new URL('../build/Release/original_dst.node', import.meta.url).pathname;

/** Loads the addon at `path`; never throws. */
export function loadAddon(path: string = ADDON_PATH): { state: AddonState; binding: Binding | undefined } {
  try {
    const binding = createRequire(import.meta.url)(path) as Binding;
    if (typeof binding.originalDst !== 'function') throw new Error('the module does not export originalDst');
    return { state: { available: true }, binding };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'MODULE_NOT_FOUND'
        ? `${path} was not built (npm ci builds it with node-gyp: it needs python3, make and a C compiler)`
        : `${path}: ${(error as Error).message}`;
    return { state: { available: false, reason }, binding: undefined };
  }
}

const loaded = loadAddon();

export const addonState: AddonState = loaded.state;

/** The kernel-level handle behind a net.Socket (libuv's TCPWrap exposes its fd on Unix). */
function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/**
 * The destination `socket` was redirected from, or undefined when it was not redirected
 * (its original destination is the address it was accepted on), when the kernel keeps no
 * record of it, or when the addon is unavailable.
 */
export function originalDestination(socket: Socket, binding: Binding | undefined = loaded.binding): OriginalDestination | undefined {
  if (!binding) return undefined;
  const fd = fdOf(socket);
  if (fd < 0) return undefined;
  let found: OriginalDestination | null;
  try {
    found = binding.originalDst(fd, socket.localFamily === 'IPv6' ? 6 : 4);
  } catch {
    // EBADF/ENOTCONN: the socket closed under us; nothing to route.
    return undefined;
  }
  if (!found) return undefined;
  if (found.port === socket.localPort && sameAddress(found.address, socket.localAddress)) return undefined;
  return found;
}

function sameAddress(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  return a === b || `::ffff:${a}` === b;
}
