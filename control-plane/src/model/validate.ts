// Checks that need the whole mesh: references between resources and conflicts between them.
// Runs on the state a change would produce, so a change is accepted or refused whole.
import type { ConfigError } from './config-error.ts';
import { effectivePolicy, sameSubset } from './destination-policy.ts';
import { type DestinationPolicyResource, type MeshResource, type RouteResource, resourceKey, type ServiceResource } from './resources.ts';

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
  errors.push(...validateDestinationPolicies(all, services, errorAt));
  return errors;
}

function validateDestinationPolicies(
  all: readonly MeshResource[],
  services: ReadonlyMap<string, ServiceResource>,
  errorAt: (r: MeshResource, path: string, message: string) => ConfigError,
): ConfigError[] {
  const errors: ConfigError[] = [];
  const byService = new Map<string, DestinationPolicyResource[]>();
  for (const r of all) {
    if (r.kind !== 'DestinationPolicy') continue;
    const key = `${r.metadata.namespace}/${r.spec.service}`;
    if (!services.has(key)) {
      errors.push(errorAt(r, 'spec.service', `no Service "${r.spec.service}" in namespace "${r.metadata.namespace}"`));
      continue;
    }
    const siblings = byService.get(key) ?? [];
    const twin = siblings.find((p) => sameSubset(p.spec.subset, r.spec.subset ?? {}));
    if (twin) {
      const what = r.spec.subset ? `subset ${JSON.stringify(r.spec.subset)} of "${r.spec.service}"` : `"${r.spec.service}"`;
      errors.push(
        errorAt(
          r,
          r.spec.subset ? 'spec.subset' : 'spec.service',
          `${what} already has ${resourceKey(twin)}; one DestinationPolicy per destination`,
        ),
      );
      continue;
    }
    siblings.push(r);
    byService.set(key, siblings);
  }
  for (const policies of byService.values()) {
    for (const p of policies) {
      const effective = effectivePolicy(policies, p.spec.subset ?? {});
      if (effective.loadBalancer.policy === 'consistent-hash' && !effective.loadBalancer.consistentHash) {
        errors.push(
          errorAt(
            p,
            'spec.loadBalancer.consistentHash',
            'required with policy consistent-hash (here or in the service-wide DestinationPolicy)',
          ),
        );
      }
      const o = effective.outlierDetection;
      if (o.maxEjectionTimeMs < o.baseEjectionTimeMs) {
        errors.push(
          errorAt(
            p,
            'spec.outlierDetection.maxEjectionTime',
            `${o.maxEjectionTimeMs} ms is below baseEjectionTime (${o.baseEjectionTimeMs} ms) once merged`,
          ),
        );
      }
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
