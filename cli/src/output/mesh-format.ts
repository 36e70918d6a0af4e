// Formatting shared by the mesh view commands (stat, edges, tap, trace): percentages,
// rates and latencies the way `linkerd viz stat` prints them.
export interface Golden {
  readonly requests: number;
  readonly successRate: number | null;
  readonly rps: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number } | null;
}

export interface Ref {
  readonly service: string;
  readonly namespace: string;
}

export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '-' : `${(rate * 100).toFixed(2)}%`;
}

export function perSecond(rps: number | undefined): string {
  return rps === undefined ? '-' : `${rps < 10 ? rps.toFixed(2) : rps.toFixed(1)}rps`;
}

export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  return ms < 10 ? `${ms.toFixed(2)}ms` : `${Math.round(ms)}ms`;
}

export function serviceName(ref: Ref): string {
  return ref.namespace === 'default' || ref.namespace === '' ? ref.service : `${ref.service}.${ref.namespace}`;
}

/** SUCCESS, RPS, P50, P95, P99 cells. */
export function goldenCells(m: Golden | null): string[] {
  if (!m) return ['-', '-', '-', '-', '-'];
  return [percent(m.successRate), perSecond(m.rps), millis(m.latencyMs?.p50), millis(m.latencyMs?.p95), millis(m.latencyMs?.p99)];
}
