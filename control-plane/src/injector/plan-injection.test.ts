import { createRootCa } from '@weft/certs';
import { describe, expect, it } from 'vitest';
import { ANNOTATION } from './annotations.ts';
import { DEFAULT_INJECTOR_CONFIG, type InjectorConfig, injectedTrustBundle } from './injector-config.ts';
import { applyPlan, type InjectionContext, planInjection } from './plan-injection.ts';

const bundle = injectedTrustBundle(createRootCa({ trustDomain: 'cluster.local', validityMs: 3600_000 }).certPem, 'test root');
const config: InjectorConfig = { ...DEFAULT_INJECTOR_CONFIG, trustBundlePem: bundle.ok ? bundle.pem : '' };

/** A pod running as the service account its labels name as its service, as a meshed pod must. */
function pod(
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown } = {},
  spec: Record<string, unknown> = {},
) {
  const serviceAccountName =
    metadata.annotations?.[ANNOTATION.service] ?? metadata.labels?.['app.kubernetes.io/name'] ?? metadata.labels?.['app'];
  return {
    metadata,
    spec: { serviceAccountName, containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 9090 }] }], ...spec },
  };
}

function plan(value: unknown, context: InjectionContext = { selection: 'cli' }) {
  const result = planInjection(value, config, context);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.plan;
}

const proxyArgs = (value: ReturnType<typeof pod>, context?: InjectionContext): string[] =>
  (applyPlan<unknown>(value, plan(value, context)) as { spec: { initContainers: { args: string[] }[] } }).spec.initContainers[1]?.args ??
  [];

describe('planInjection', () => {
  it('selected by the namespace, injects unless the pod opts out by annotation or label', () => {
    expect(plan(pod({ labels: { app: 'a' } }), { selection: 'namespace' }).outcome.kind).toBe('injected');
    expect(plan(pod({ labels: { app: 'a', [ANNOTATION.inject]: 'disabled' } }), { selection: 'namespace' }).outcome.kind).toBe('skipped');
    expect(
      plan(pod({ labels: { app: 'a' }, annotations: { [ANNOTATION.inject]: 'disabled' } }), { selection: 'namespace' }).outcome.kind,
    ).toBe('skipped');
  });

  it('selected by the pod, injects only pods that opt in by annotation or label', () => {
    expect(plan(pod({ labels: { app: 'a' } }), { selection: 'pod' })).toEqual({
      outcome: { kind: 'skipped', reason: `${ANNOTATION.inject} is not enabled` },
      patch: [],
    });
    expect(plan(pod({ labels: { app: 'a' }, annotations: { [ANNOTATION.inject]: 'enabled' } }), { selection: 'pod' }).outcome.kind).toBe(
      'injected',
    );
    expect(plan(pod({ labels: { app: 'a', [ANNOTATION.inject]: 'enabled' } }), { selection: 'pod' }).outcome.kind).toBe('injected');
  });

  it('names the service from the annotation, then app.kubernetes.io/name, then app, then the workload', () => {
    const service = (p: ReturnType<typeof pod>, workloadName?: string) => {
      const args = proxyArgs(p, { selection: 'cli', workloadName });
      return args[args.indexOf('--service') + 1];
    };
    const labels = { 'app.kubernetes.io/name': 'named', app: 'plain' };
    expect(service(pod({ labels, annotations: { [ANNOTATION.service]: 'chosen' } }))).toBe('chosen');
    expect(service(pod({ labels }))).toBe('named');
    expect(service(pod({ labels: { app: 'plain' } }))).toBe('plain');
    expect(service(pod({}, { serviceAccountName: 'deploy-name' }), 'deploy-name')).toBe('deploy-name');
    expect(planInjection(pod({ generateName: 'x-' }), config, { selection: 'namespace' })).toEqual({
      ok: false,
      errors: [
        { at: ['metadata'], message: `cannot tell which service this pod serves: set annotation ${ANNOTATION.service} or label app` },
      ],
    });
    expect(planInjection(pod({ labels: { app: 'Not_A_Label' } }), config, { selection: 'cli' })).toMatchObject({
      ok: false,
      errors: [{ at: ['metadata', 'labels', 'app'] }],
    });
  });

  it('announces the template labels but not those controllers add per pod or revision', () => {
    const args = proxyArgs(pod({ labels: { app: 'a', version: 'v2', 'pod-template-hash': '5d9c', 'controller-revision-hash': 'abc' } }));
    expect(args.filter((_, i) => args[i - 1] === '--label')).toEqual(['app=a', 'version=v2']);
  });

  it('takes the app port from the annotation, else the first declared TCP port; none for a send-only pod', () => {
    const appPort = (p: ReturnType<typeof pod>) => {
      const args = proxyArgs(p);
      return args.includes('--app-port') ? args[args.indexOf('--app-port') + 1] : undefined;
    };
    expect(appPort(pod({ labels: { app: 'a' } }))).toBe('9090');
    expect(appPort(pod({ labels: { app: 'a' }, annotations: { [ANNOTATION.appPort]: '7070' } }))).toBe('7070');
    expect(appPort(pod({ labels: { app: 'a' } }, { containers: [{ name: 'job', image: 'job:1' }] }))).toBeUndefined();
  });

  it('sizes the proxy from annotations, over the defaults', () => {
    const value = pod({ labels: { app: 'a' }, annotations: { [ANNOTATION.proxyCpuLimit]: '2', [ANNOTATION.proxyMemoryRequest]: '96Mi' } });
    const injected = applyPlan<unknown>(value, plan(value)) as { spec: { initContainers: { resources: unknown }[] } };
    expect(injected.spec.initContainers[1]?.resources).toEqual({
      requests: { cpu: '100m', memory: '96Mi' },
      limits: { cpu: '2', memory: '256Mi' },
    });
  });

  it('refuses a pod whose service account is not its service, and injects none without a trust bundle', () => {
    expect(
      planInjection(pod({ labels: { app: 'web' } }, { serviceAccountName: 'default' }), config, { selection: 'namespace' }),
    ).toMatchObject({
      ok: false,
      errors: [
        {
          at: ['spec', 'serviceAccountName'],
          message: expect.stringContaining('runs as service account "default" but serves Weft service "web"'),
        },
      ],
    });
    expect(planInjection(pod({ labels: { app: 'web' } }), { ...config, trustBundlePem: '' }, { selection: 'cli' })).toEqual({
      ok: false,
      errors: [{ at: [], message: 'the injector has no trust bundle to give the sidecar (weft inject --trust-bundle FILE)' }],
    });
  });

  it('refuses a pod whose own container takes a name the injector owns', () => {
    const value = pod({ labels: { app: 'a' } }, { containers: [{ name: 'weft-proxy', image: 'x' }] });
    expect(planInjection(value, config, { selection: 'cli' })).toMatchObject({
      ok: false,
      errors: [{ at: ['spec', 'containers', 0, 'name'] }],
    });
  });

  it('reports every bad annotation at once', () => {
    const value = pod({
      annotations: { [ANNOTATION.inject]: 'yes', [ANNOTATION.excludeInboundPorts]: '99999', [ANNOTATION.service]: 'Bad' },
    });
    const result = planInjection(value, config, { selection: 'cli' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.at.at(-1))).toEqual([
      ANNOTATION.inject,
      ANNOTATION.service,
      ANNOTATION.excludeInboundPorts,
    ]);
  });
});
