// `weft inject` as a user runs it: manifests on stdin or in files, injected manifests on
// stdout, a line per workload on stderr, exit 1 and no output on bad input. The sidecar it
// writes is then started for real as the kubelet would (its token and trust bundle projected
// from the pod), gets its identity from a service-account token, and becomes ready.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { sidecarIdentity, startControlPlane, startFakeKubernetes, startInjectedProxy, tempDir, weft } from '../src/harness/index.ts';

/** The example CA of deploy/kubernetes/example: a trust bundle for tests that never dial. */
const EXAMPLE = join(import.meta.dirname, '../../deploy/kubernetes/example');
const BUNDLE = join(EXAMPLE, 'example-ca.crt');
const inject = (args: readonly string[], options?: { input?: string }) => weft(['inject', '--trust-bundle', BUNDLE, ...args], options);

const DEPLOYMENT = `# orders, as written by its team
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  namespace: shop
spec:
  selector:
    matchLabels: {app: orders}
  template:
    metadata:
      labels: {app: orders, version: v2}
    spec:
      serviceAccountName: orders
      containers:
      - name: orders
        image: shop/orders:2.0   # pinned
        ports:
        - containerPort: 8080
`;

const CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data:
  greeting: "hello"   # untouched
`;

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked freely in assertions
type Json = any;
const docs = (text: string): Json[] => parseAllDocuments(text).map((d) => d.toJS());

describe('weft inject', () => {
  it('reads stdin and writes the injected manifests to stdout, reporting each workload on stderr', async () => {
    const result = await inject([], { input: `${DEPLOYMENT}---\n${CONFIGMAP}` });
    expect(result.stderr).toBe('Deployment shop/orders: injected (service orders)\n');
    expect(result.code).toBe(0);
    const [deployment, configMap] = docs(result.stdout);
    expect(deployment.spec.template.spec.initContainers.map((c: Json) => c.name)).toEqual(['weft-init', 'weft-proxy']);
    expect(configMap).toEqual(docs(CONFIGMAP)[0]);
    expect(result.stdout).toContain('# orders, as written by its team');
    expect(result.stdout).toContain('image: shop/orders:2.0 # pinned');
    expect(result.stdout.endsWith(`---\n${CONFIGMAP}`)).toBe(true);
  });

  it('reads several files, and injecting its own output again changes nothing', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'orders.yaml'), DEPLOYMENT);
    writeFileSync(join(dir, 'settings.yaml'), CONFIGMAP);
    const first = await inject(['-f', join(dir, 'orders.yaml'), '-f', join(dir, 'settings.yaml')]);
    expect(first.code).toBe(0);
    expect(docs(first.stdout)).toHaveLength(2);
    writeFileSync(join(dir, 'injected.yaml'), first.stdout);
    const second = await inject(['-f', join(dir, 'injected.yaml')]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stderr).toContain('Deployment shop/orders: already injected');
  });

  it('takes the proxy image and the discovery address from flags', async () => {
    const result = await inject(['--proxy-image', 'registry.local/weft/proxy:dev', '--discovery-address', 'cp.mesh:7000'], {
      input: DEPLOYMENT,
    });
    const [init, proxy] = docs(result.stdout)[0].spec.template.spec.initContainers;
    expect([init.image, proxy.image]).toEqual(['registry.local/weft/proxy:dev', 'registry.local/weft/proxy:dev']);
    expect(proxy.args).toEqual(expect.arrayContaining(['--control-plane', 'cp.mesh:7000']));
    expect(init.args.slice(-2)).toEqual(['--exclude-outbound-ports', '7000']);
  });

  it('exits 1 naming file, line, resource and annotation, and writes nothing, when an annotation is wrong', async () => {
    const dir = tempDir();
    const file = join(dir, 'orders.yaml');
    writeFileSync(
      file,
      DEPLOYMENT.replace('      labels:', '      annotations: {weft.io/exclude-outbound-ports: "5432,db"}\n      labels:'),
    );
    const result = await inject(['-f', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `${file}:12, document 1, Deployment shop/orders: spec.template.metadata.annotations["weft.io/exclude-outbound-ports"]: "db" is not a port`,
    );
  });

  it('refuses to inject without a trust bundle, or with a file that holds none', async () => {
    const missing = await weft(['inject'], { input: DEPLOYMENT });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain("--trust-bundle: required: the mesh's trust bundle");
    const file = join(tempDir(), 'empty.pem');
    writeFileSync(file, 'not a certificate\n');
    const empty = await weft(['inject', '--trust-bundle', file], { input: DEPLOYMENT });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain(`--trust-bundle ${file}: no certificates`);
  });

  it('writes a complete pod: its proxy gets an identity from the service-account token and becomes ready', async () => {
    const k8s = await startFakeKubernetes();
    const config = 'apiVersion: weft.io/v1alpha1\nkind: Service\nmetadata: {name: orders, namespace: shop}\nspec: {port: 80}\n';
    const cp = await startControlPlane({ config, args: k8s.controlPlaneArgs });
    const result = await weft(['inject', '--trust-bundle', cp.trustBundlePath], { input: DEPLOYMENT });
    expect(result.code).toBe(0);
    const template = docs(result.stdout)[0].spec.template;
    const sidecar = await startInjectedProxy(template, { namespace: 'shop', name: 'orders-7d9f-abcde', controlPlane: cp.xdsAddress, k8s });
    await sidecar.waitReady();
    const dump = (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/config_dump`)).json()) as { node: Json };
    expect(dump.node).toMatchObject({ service: 'orders', namespace: 'shop', labels: { app: 'orders', version: 'v2' } });
    expect((await sidecarIdentity(sidecar)).certificate?.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/orders');
  });

  it('keeps the example application and its injected form in step', async () => {
    const result = await inject(['-q', '-f', join(EXAMPLE, 'app.yaml')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(readFileSync(join(EXAMPLE, 'app.injected.yaml'), 'utf8'));
  });
});
