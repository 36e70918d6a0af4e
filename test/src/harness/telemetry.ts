// Telemetry helpers for the end-to-end suites: sidecar flags that flush often and trace
// everything, the control plane's mesh view as JSON, and Prometheus text as numbers.

/** Sidecar flags for telemetry tests: frequent batches, every trace sampled, no access log noise. */
export const FAST_TELEMETRY = ['--telemetry-flush-ms', '100', '--trace-sample-rate', '1', '--access-log', 'off'];

export interface Golden {
  readonly requests: number;
  readonly failures: number;
  readonly successRate: number | null;
  readonly rps: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number } | null;
}

export interface ServiceStat {
  readonly service: string;
  readonly namespace: string;
  readonly meshed: number;
  readonly inbound: Golden | null;
  readonly outbound: Golden | null;
}

export interface EdgeStat {
  readonly source: { service: string; namespace: string };
  readonly destination: { service: string; namespace: string };
  /** SPIFFE IDs seen on each end (mTLS). */
  readonly sourceIdentities: readonly string[];
  readonly destinationIdentities: readonly string[];
  readonly metrics: Golden;
}

export async function meshStat(adminUrl: string, window = '10m'): Promise<ServiceStat[]> {
  const body = (await (await fetch(`${adminUrl}/api/stat?window=${window}`)).json()) as { services: ServiceStat[] };
  return body.services;
}

export async function meshEdges(adminUrl: string, window = '10m'): Promise<EdgeStat[]> {
  const body = (await (await fetch(`${adminUrl}/api/edges?window=${window}`)).json()) as { edges: EdgeStat[] };
  return body.edges;
}

/** Requests the control plane has counted at a service's sidecars (inbound). */
export async function inboundRequests(adminUrl: string, service: string): Promise<number> {
  return (await meshStat(adminUrl)).find((s) => s.service === service)?.inbound?.requests ?? 0;
}

/** One sample of a Prometheus text exposition, matched by name and label subset. */
export function promValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const brace = line.indexOf('{');
    const labelText = brace >= 0 && line.startsWith(`${name}{`) ? line.slice(brace + 1, line.lastIndexOf('}')) : '';
    const found = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (!Object.entries(labels).every(([k, v]) => found[k] === v)) continue;
    total = (total ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export async function scrape(adminPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
}
