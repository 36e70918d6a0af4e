// The result type of the harness's fallible steps: failures are values until the edge
// (main.ts) decides to print them.
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };
