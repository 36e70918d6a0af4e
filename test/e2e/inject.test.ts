// `weft inject` as a user runs it: manifests on stdin or in files, injected manifests on
// stdout, a line per workload on stderr, exit 1 and no output on bad input. The sidecar it
// writes is then started for real with the arguments it wrote, and becomes ready.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { service, startControlPlane, startSidecar, tempDir, weft, yamlDocs } from '../src/harness/index.ts';

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
    const result = await weft(['inject'], { input: `${DEPLOYMENT}---\n${CONFIGMAP}` });
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
    const first = await weft(['inject', '-f', join(dir, 'orders.yaml'), '-f', join(dir, 'settings.yaml')]);
    expect(first.code).toBe(0);
    expect(docs(first.stdout)).toHaveLength(2);
    writeFileSync(join(dir, 'injected.yaml'), first.stdout);
    const second = await weft(['inject', '-f', join(dir, 'injected.yaml')]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stderr).toContain('Deployment shop/orders: already injected');
  });

  it('takes the proxy image and the discovery address from flags', async () => {
    const result = await weft(['inject', '--proxy-image', 'registry.local/weft/proxy:dev', '--discovery-address', 'cp.mesh:7000'], {
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
    const result = await weft(['inject', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `${file}:12, document 1, Deployment shop/orders: spec.template.metadata.annotations["weft.io/exclude-outbound-ports"]: "db" is not a port`,
    );
  });

  it('writes a sidecar that the real proxy accepts and that becomes ready', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('orders')) });
    const result = await weft(['inject'], { input: DEPLOYMENT });
    const proxy = docs(result.stdout)[0].spec.template.spec.initContainers[1];
    // What the kubelet would do: expand $(VAR) from the downward API; then point the
    // listeners at free loopback ports and the control plane at the test's.
    const env: Record<string, string> = { WEFT_NAMESPACE: 'shop', WEFT_POD_NAME: 'orders-7d9f-abcde' };
    const overrides: Record<string, string> = {
      '--control-plane': cp.xdsAddress,
      '--inbound-host': '127.0.0.1',
      '--inbound-port': '0',
      '--outbound-port': '0',
      '--admin-host': '127.0.0.1',
      '--admin-port': '0',
    };
    const args: string[] = proxy.args.map((a: string) => a.replace(/\$\((\w+)\)/g, (_: string, name: string) => env[name] ?? ''));
    expect(args[0]).toBe('proxy');
    const flags = args.slice(1).map((a, i, all) => overrides[all[i - 1] ?? ''] ?? a);
    const serviceName = flags[flags.indexOf('--service') + 1] ?? '';
    const sidecar = await startSidecar({ service: serviceName, controlPlane: cp.xdsAddress, nodeId: 'orders-7d9f-abcde', args: flags });
    await sidecar.waitReady();
    const dump = (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/config_dump`)).json()) as { node: Json };
    expect(dump.node).toMatchObject({ service: 'orders', namespace: 'shop', labels: { app: 'orders', version: 'v2' } });
  });

  it('keeps the example application and its injected form in step', async () => {
    const example = join(import.meta.dirname, '../../deploy/kubernetes/example');
    const result = await weft(['inject', '-q', '-f', join(example, 'app.yaml')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(readFileSync(join(example, 'app.injected.yaml'), 'utf8'));
  });
});
