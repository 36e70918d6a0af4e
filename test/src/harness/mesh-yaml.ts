// Builds mesh config documents for tests, so each test states only what it is about.
import { stringify } from 'yaml';

const API = 'weft.io/v1alpha1';

export function service(name: string, extra: { protocol?: string; port?: number; calls?: string[] } = {}): string {
  return doc('Service', name, {
    protocol: extra.protocol ?? 'http',
    port: extra.port ?? 80,
    ...(extra.calls ? { calls: extra.calls } : {}),
  });
}

export function route(name: string, spec: unknown): string {
  return doc('Route', name, spec);
}

export function destinationPolicy(name: string, spec: unknown): string {
  return doc('DestinationPolicy', name, spec);
}

export function yamlDocs(...docs: string[]): string {
  return docs.join('---\n');
}

function doc(kind: string, name: string, spec: unknown): string {
  return stringify({ apiVersion: API, kind, metadata: { name }, spec });
}
