// Checks that need the whole mesh: references between resources and conflicts between them.
// Runs on the state a change would produce, so a change is accepted or refused whole.
import type { ConfigError } from './config-error.ts';
import { type MeshResource, type RouteResource, resourceKey, type ServiceResource } from './resources.ts';

export interface Origin {
  readonly file: string;
  readonly document: number;
}

export function validateMesh(resources: Iterable<MeshResource>, originOf: (resource: MeshResource) => Origin): ConfigError[] {
  const errors: ConfigError[] = [];
  const services = new Map<string, ServiceResource>();
  const routes: RouteResource[] = [];
  const all = [...resources];
  for (const r of all) {
    if (r.kind === 'Service') services.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
    if (r.kind === 'Route') routes.push(r);
  }
  const errorAt = (r: MeshResource, path: string, message: string): ConfigError => ({
    ...originOf(r),
    resource: `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`,
    path,
    message,
  });

  const hostOwner = new Map<string, RouteResource>();
  for (const route of routes) {
    route.spec.hosts.forEach((host, i) => {
      const qualified = qualifyHost(host, route.metadata.namespace, services);
      const owner = hostOwner.get(qualified);
      if (owner && owner !== route) {
        errors.push(errorAt(route, `spec.hosts[${i}]`, `host "${host}" is already routed by ${resourceKey(owner)}; one Route per host`));
      }
      hostOwner.set(qualified, route);
    });
    route.spec.rules.forEach((rule, r) => {
      rule.backends.forEach((backend, b) => {
        const service = services.get(`${backend.namespace}/${backend.service}`);
        if (!service) {
          errors.push(
            errorAt(
              route,
              `spec.rules[${r}].backends[${b}].service`,
              `no Service "${backend.service}" in namespace "${backend.namespace}"`,
            ),
          );
        } else if (service.spec.protocol === 'tcp') {
          errors.push(
            errorAt(route, `spec.rules[${r}].backends[${b}].service`, `Service "${backend.service}" speaks tcp; a Route sends HTTP`),
          );
        }
      });
    });
  }
  for (const r of all) {
    if ((r.kind === 'Workload' || r.kind === 'AuthorizationPolicy') && !services.has(`${r.metadata.namespace}/${r.spec.service}`)) {
      errors.push(errorAt(r, 'spec.service', `no Service "${r.spec.service}" in namespace "${r.metadata.namespace}"`));
    }
  }
  return errors;
}

/** A Route host that names a Service is that service; any other host stands for itself. */
export function qualifyHost(host: string, namespace: string, services: ReadonlyMap<string, unknown>): string {
  const short = host.split('.');
  if (short.length === 1 && services.has(`${namespace}/${host}`)) return `${host}.${namespace}`;
  return host;
}
