import { createRootCa } from '@weft/certs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ANNOTATION } from './annotations.ts';
import { injectManifests } from './inject-manifests.ts';
import { DEFAULT_INJECTOR_CONFIG, type InjectorConfig, injectedTrustBundle } from './injector-config.ts';

const bundle = injectedTrustBundle(createRootCa({ trustDomain: 'cluster.local', validityMs: 3600_000 }).certPem, 'test root');
const config: InjectorConfig = { ...DEFAULT_INJECTOR_CONFIG, trustBundlePem: bundle.ok ? bundle.pem : '' };

function inject(text: string, cfg: InjectorConfig = config) {
  const result = injectManifests(text, 'app.yaml', cfg);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked freely in assertions
type Json = any;
const docs = (text: string): Json[] => parseAllDocuments(text).map((d) => d.toJS() as Json);

/** Takes out exactly what injection adds, so the rest can be compared with the input. */
function uninjected(template: Json): Json {
  const copy = structuredClone(template);
  copy.spec.initContainers = (copy.spec.initContainers ?? []).filter((c: Json) => !c.name.startsWith('weft-'));
  if (copy.spec.initContainers.length === 0) delete copy.spec.initContainers;
  copy.spec.volumes = (copy.spec.volumes ?? []).filter((v: Json) => v.name !== 'weft-token');
  if (copy.spec.volumes.length === 0) delete copy.spec.volumes;
  delete copy.metadata.annotations[ANNOTATION.proxyVersion];
  delete copy.metadata.annotations[ANNOTATION.injectionHash];
  delete copy.metadata.annotations[ANNOTATION.trustBundle];
  if (Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
  return copy;
}

const deployment = `# The shop's web front end
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels:
        app: web      # the service
        version: v1
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: shop/web:1.2   # pinned
        ports:
        - containerPort: 8080
`;

const service = `apiVersion: v1
kind: Service
metadata:   {name: web}   # odd spacing is kept
spec:
  ports: [{port: 80, targetPort: 8080}]
`;

describe('weft inject on manifests', () => {
  it('adds the interception init container, the native sidecar, the token volume and the annotations', () => {
    const result = inject(deployment);
    expect(result.reports).toEqual([
      {
        document: 1,
        resource: 'Deployment shop/web',
        outcome: { kind: 'injected', service: 'web', hash: expect.any(String), replaced: false },
      },
    ]);
    const [out] = docs(result.output);
    const pod = out?.spec.template;
    const [init, proxy] = pod.spec.initContainers;
    expect(init.name).toBe('weft-init');
    expect(init.args).toEqual(expect.arrayContaining(['init', '--proxy-uid', '2102', '--capture-inbound-ports', '8080']));
    expect(init.securityContext.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(proxy.name).toBe('weft-proxy');
    expect(proxy.restartPolicy).toBe('Always');
    expect(proxy.startupProbe.httpGet).toEqual({ path: '/ready', port: 15020 });
    expect(proxy.readinessProbe.httpGet).toEqual({ path: '/ready', port: 15020 });
    expect(proxy.securityContext).toMatchObject({ runAsUser: 2102, runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(proxy.resources).toEqual({ requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } });
    expect(proxy.args).toEqual(
      expect.arrayContaining(['--service', 'web', '--app-port', '8080', '--label', 'app=web', '--label', 'version=v1']),
    );
    // Identity: the projected token and the trust bundle, both in the one volume.
    const arg = (flag: string) => proxy.args[proxy.args.indexOf(flag) + 1];
    expect(arg('--token-file')).toBe('/var/run/secrets/weft.io/serviceaccount/token');
    expect(arg('--trust-bundle')).toBe('/var/run/secrets/weft.io/serviceaccount/ca.crt');
    expect(arg('--trust-domain')).toBe('cluster.local');
    expect(proxy.volumeMounts).toEqual([{ name: 'weft-token', mountPath: '/var/run/secrets/weft.io/serviceaccount', readOnly: true }]);
    expect(pod.spec.volumes).toEqual([
      {
        name: 'weft-token',
        projected: {
          sources: [
            { serviceAccountToken: { audience: 'weft', expirationSeconds: 3600, path: 'token' } },
            { downwardAPI: { items: [{ path: 'ca.crt', fieldRef: { fieldPath: "metadata.annotations['weft.io/trust-bundle']" } }] } },
          ],
        },
      },
    ]);
    expect(pod.metadata.annotations).toEqual({
      [ANNOTATION.proxyVersion]: '0.1.0',
      [ANNOTATION.injectionHash]: expect.stringMatching(/^[0-9a-f]{16}$/),
      [ANNOTATION.trustBundle]: config.trustBundlePem,
    });
    expect(config.trustBundlePem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  it('keeps everything it did not inject: same meaning, comments and untouched documents byte for byte', () => {
    const input = `${deployment}---\n${service}`;
    const result = inject(input);
    const [before, svcBefore] = docs(input);
    const [after, svcAfter] = docs(result.output);
    expect({ ...after, spec: { ...after?.spec, template: uninjected(after?.spec.template) } }).toEqual(before);
    expect(svcAfter).toEqual(svcBefore);
    expect(result.output).toContain("# The shop's web front end");
    expect(result.output).toContain('# the service');
    expect(result.output).toContain('# pinned');
    expect(result.output).toContain('matchLabels: {app: web}');
    // kubectl's style of unindented sequences is kept.
    expect(result.output).toContain('      containers:\n      - name: web');
    expect(result.output.endsWith(`---\n${service}`)).toBe(true);
  });

  it('is idempotent: injecting the output again changes nothing', () => {
    const once = inject(`${deployment}---\n${service}`);
    const twice = inject(once.output);
    expect(twice.output).toBe(once.output);
    expect(twice.changed).toBe(false);
    expect(twice.reports[0]?.outcome).toEqual({ kind: 'unchanged', hash: expect.any(String) });
  });

  it('re-injects in place when what it would inject has changed', () => {
    const once = inject(deployment);
    const upgraded = inject(once.output, { ...config, proxyImage: 'weft/proxy:0.2.0', proxyVersion: '0.2.0' });
    expect(upgraded.reports[0]?.outcome).toMatchObject({ kind: 'injected', replaced: true });
    const pod = docs(upgraded.output)[0]?.spec.template;
    expect(pod.spec.initContainers.map((c: Json) => `${c.name} ${c.image}`)).toEqual([
      'weft-init weft/proxy:0.2.0',
      'weft-proxy weft/proxy:0.2.0',
    ]);
    expect(pod.spec.volumes).toHaveLength(1);
    expect(pod.metadata.annotations[ANNOTATION.proxyVersion]).toBe('0.2.0');
    expect(uninjected(pod)).toEqual(docs(deployment)[0]?.spec.template);
  });

  it('leaves a workload that opts out exactly as it was', () => {
    const optedOut = deployment.replace('    metadata:\n', `    metadata:\n      annotations:\n        ${ANNOTATION.inject}: disabled\n`);
    const result = inject(optedOut);
    expect(result.output).toBe(optedOut);
    expect(result.reports[0]?.outcome).toEqual({ kind: 'skipped', reason: `${ANNOTATION.inject} is disabled` });
  });

  it('excludes annotated ports from capture, inbound and outbound', () => {
    const annotated = deployment.replace(
      '    metadata:\n',
      `    metadata:\n      annotations:\n        ${ANNOTATION.excludeInboundPorts}: "8080"\n        ${ANNOTATION.excludeOutboundPorts}: 5432, 6379-6380,6381\n`,
    );
    const init = docs(inject(annotated).output)[0]?.spec.template.spec.initContainers[0];
    expect(init.args).not.toContain('--capture-inbound-ports');
    expect(init.args.slice(init.args.indexOf('--exclude-inbound-ports'), init.args.indexOf('--exclude-inbound-ports') + 2)).toEqual([
      '--exclude-inbound-ports',
      '8080',
    ]);
    expect(init.args.slice(-2)).toEqual(['--exclude-outbound-ports', '5432,6379-6381,15010']);
  });

  it('names file, line, document, resource and annotation for a bad annotation, and outputs nothing', () => {
    const bad = deployment.replace('    metadata:\n', `    metadata:\n      annotations:\n        ${ANNOTATION.appPort}: http\n`);
    const result = injectManifests(`${service}---\n${bad}`, 'app.yaml', config);
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          file: 'app.yaml',
          document: 2,
          resource: 'Deployment shop/web',
          path: 'spec.template.metadata.annotations["weft.io/app-port"]',
          message: '"http" must be a port number 1–65535',
          line: 20,
        },
      ],
    });
  });

  it('finds the pod template of every workload kind, and in a List', () => {
    const pod = (indent: string) =>
      ['metadata:', '  labels: {app: w}', 'spec:', '  serviceAccountName: w', '  containers:', '  - name: w', '    image: w']
        .map((l) => indent + l)
        .join('\n');
    const kinds: [string, string, string[]][] = [
      ['v1', 'Pod', []],
      ['apps/v1', 'Deployment', ['spec', 'template']],
      ['apps/v1', 'StatefulSet', ['spec', 'template']],
      ['apps/v1', 'DaemonSet', ['spec', 'template']],
      ['apps/v1', 'ReplicaSet', ['spec', 'template']],
      ['v1', 'ReplicationController', ['spec', 'template']],
      ['batch/v1', 'Job', ['spec', 'template']],
      ['batch/v1', 'CronJob', ['spec', 'jobTemplate', 'spec', 'template']],
    ];
    const text = kinds
      .map(([apiVersion, kind, path]) => {
        const head = `apiVersion: ${apiVersion}\nkind: ${kind}\n`;
        if (path.length === 0) return `${head}${pod('').replace('metadata:', 'metadata:\n  name: w')}\n`;
        let body = '';
        path.forEach((key, i) => {
          body += `${'  '.repeat(i)}${key}:\n`;
        });
        return `${head}metadata: {name: w}\n${body}${pod('  '.repeat(path.length))}\n`;
      })
      .join('---\n');
    const result = inject(text);
    expect(result.reports.map((r) => `${r.resource} ${r.outcome.kind}`)).toEqual(kinds.map(([, kind]) => `${kind} w injected`));
    docs(result.output).forEach((doc, i) => {
      let template: Json = doc;
      for (const key of kinds[i]?.[2] ?? []) template = template[key];
      expect(template['spec'].initContainers.map((c: Json) => c.name)).toEqual(['weft-init', 'weft-proxy']);
    });

    const list = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n${pod('  ').replace('metadata:', 'metadata:\n    name: p')}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n`;
    const listed = inject(list);
    expect(listed.reports.map((r) => r.resource)).toEqual(['Pod p']);
    expect(docs(listed.output)[0]?.items[0].spec.initContainers).toHaveLength(2);
    expect(docs(listed.output)[0]?.items[1]).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
  });

  it('puts the sidecar before existing init containers and adds its volume after existing ones', () => {
    const withInit = deployment.replace(
      '      containers:\n',
      '      initContainers:\n      - name: migrate\n        image: shop/migrate\n      volumes:\n      - name: data\n        emptyDir: {}\n      containers:\n',
    );
    const pod = docs(inject(withInit).output)[0]?.spec.template;
    expect(pod.spec.initContainers.map((c: Json) => c.name)).toEqual(['weft-init', 'weft-proxy', 'migrate']);
    expect(pod.spec.volumes.map((v: Json) => v.name)).toEqual(['data', 'weft-token']);
  });

  it('refuses a pod whose service account is not its Weft service, naming both and the fix', () => {
    const other = deployment.replace('      serviceAccountName: web\n', '      serviceAccountName: shop-frontend\n');
    expect(injectManifests(other, 'app.yaml', config)).toEqual({
      ok: false,
      errors: [
        {
          file: 'app.yaml',
          document: 1,
          resource: 'Deployment shop/web',
          path: 'spec.template.spec.serviceAccountName',
          message:
            'the pod runs as service account "shop-frontend" but serves Weft service "web" (from metadata.labels.app); a pod\'s Weft service is its service account, whose token proves its identity: set serviceAccountName: web (and create that ServiceAccount), or annotation weft.io/service: shop-frontend',
          line: 17,
        },
      ],
    });
    // No service account named: the pod runs as "default".
    const unnamed = injectManifests(deployment.replace('      serviceAccountName: web\n', ''), 'app.yaml', config);
    expect(!unnamed.ok && unnamed.errors[0]?.message).toMatch(/^the pod runs as service account "default" but serves Weft service "web"/);
    // The deprecated spelling counts too.
    expect(inject(deployment.replace('serviceAccountName: web', 'serviceAccount: web')).reports[0]?.outcome.kind).toBe('injected');
    // And a new trust bundle re-injects.
    const once = inject(deployment);
    const rotated = injectedTrustBundle(createRootCa({ trustDomain: 'cluster.local', validityMs: 3600_000 }).certPem, 'new root');
    const again = inject(once.output, { ...config, trustBundlePem: rotated.ok ? config.trustBundlePem + rotated.pem : '' });
    expect(again.reports[0]?.outcome).toMatchObject({ kind: 'injected', replaced: true });
    expect(docs(again.output)[0]?.spec.template.metadata.annotations[ANNOTATION.trustBundle].match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('answers JSON with JSON', () => {
    const json = JSON.stringify(docs(deployment)[0]);
    const result = inject(json);
    const out = JSON.parse(result.output);
    expect(out.spec.template.spec.initContainers.map((c: Json) => c.name)).toEqual(['weft-init', 'weft-proxy']);
    expect(uninjected(out.spec.template)).toEqual(docs(deployment)[0]?.spec.template);
  });

  it('skips pods on the host network', () => {
    const host = deployment.replace('      containers:\n', '      hostNetwork: true\n      containers:\n');
    const result = inject(host);
    expect(result.output).toBe(host);
    expect(result.reports[0]?.outcome.kind).toBe('skipped');
  });

  it('refuses a pod template without containers, naming the field', () => {
    const result = injectManifests('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n', 'pod.yaml', config);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]).toMatchObject({
      path: 'spec.containers',
      message: 'a pod needs at least one container',
      line: 5,
    });
  });

  it('reports YAML syntax errors with their line', () => {
    const result = injectManifests('apiVersion: v1\nkind: Pod\nmetadata: {name: p\n', 'pod.yaml', config);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]?.message).toMatch(/^YAML: /);
  });
});
