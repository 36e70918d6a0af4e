// The meshes of the control-plane measurements, as YAML for `weft control-plane --config`
// and the admin API. Every service declares that it calls `shared` (config is scoped by
// use), so changing the shared Route's timeout is a change that all N sidecars must ACK.
import { stringify } from 'yaml';

const API = 'weft.io/v1alpha1';
export const SHARED_SERVICE = 'shared';

export function serviceName(index: number): string {
  return `svc-${index}`;
}

function doc(kind: string, name: string, spec: unknown): string {
  return stringify({ apiVersion: API, kind, metadata: { name }, spec });
}

/** The Route every push changes: its timeout alternates, so each apply is a real change. */
export function sharedRouteYaml(timeoutS: number): string {
  return doc('Route', SHARED_SERVICE, {
    hosts: [SHARED_SERVICE],
    rules: [{ timeout: `${timeoutS}s`, backends: [{ service: SHARED_SERVICE }] }],
  });
}

/** `services` Services named svc-0…, plus the shared Service and its Route. */
export function scaleMeshYaml(services: number, routeTimeoutS = 1): string {
  const calls = { protocol: 'http', port: 80, calls: [SHARED_SERVICE] };
  const docs = Array.from({ length: services }, (_, i) => doc('Service', serviceName(i), calls));
  docs.push(
    doc('Service', 'client', calls),
    doc('Service', SHARED_SERVICE, { protocol: 'http', port: 80 }),
    sharedRouteYaml(routeTimeoutS),
  );
  return docs.join('---\n');
}
