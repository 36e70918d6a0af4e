// node:http server options shared by the sidecar's listeners.
import type { ServerOptions } from 'node:http';

export const serverTimeouts: ServerOptions = {
  // Node's default cuts any request after 5 minutes; streams may live longer. Route
  // timeouts bound requests instead.
  requestTimeout: 0,
  // Slow clients still must send their headers in time.
  headersTimeout: 30_000,
  // Longer than the upstream pools' idle timeout (60 s), so the client side closes first
  // and never sends on a connection we are closing.
  keepAliveTimeout: 75_000,
};
