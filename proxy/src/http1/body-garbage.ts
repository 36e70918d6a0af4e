// Body chunks llhttp copies out of each read are Buffers whose memory lives outside V8's heap,
// and V8 frees it only when it collects those (small) objects — which it does for external
// memory only past ~64 MB of it. A sidecar moving large bodies would so hold 100 MB and
// more of dead chunks at any time. Every 16 MiB of body bytes, one young-generation
// collection (a scavenge: well under a millisecond) gives them back. Only when gc() is
// exposed (`weft proxy` starts Node with --expose-gc, cli/bin/weft.js); otherwise V8's own
// pacing applies.

const COLLECT_EVERY_BYTES = 16 * 1024 * 1024;

const gc = (globalThis as { gc?: (options?: object) => void }).gc;
let bytes = 0;
let scheduled = false;

/** `n` body bytes were copied out of the parser. */
export function bodyBytesCopied(n: number): void {
  bytes += n;
  if (bytes < COLLECT_EVERY_BYTES || scheduled || gc === undefined) return;
  scheduled = true;
  // After this read is handled: the chunks it wrote are garbage by then.
  setImmediate(collect);
}

function collect(): void {
  scheduled = false;
  bytes = 0;
  (gc as (options?: object) => void)({ type: 'minor' });
}
