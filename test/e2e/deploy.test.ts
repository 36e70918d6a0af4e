// deploy/ checked without a cluster or a Docker engine: every Kubernetes manifest against the
// Kubernetes OpenAPI schemas (kubernetes-models), the pieces against each other (selectors,
// ports, secrets, webhook paths, the proxy's uid), the control plane's container started for
// real with the manifest's own arguments and ConfigMap, the compose sidecars' commands run for
// real, the Dockerfiles read statically, and the systemd units through systemd-analyze.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_INJECTOR_CONFIG, INJECTED_PROXY_VERSION } from '@weft/control-plane/injector';
import { PROXY_VERSION } from '@weft/proxy';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  send,
  sidecarIdentity,
  startApp,
  startControlPlane,
  startFakeKubernetes,
  startInjectedProxy,
  startSidecar,
  tempDir,
  waitForMeshSync,
  waitUntil,
  weft,
} from '../src/harness/index.ts';

const ROOT = join(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: manifests, walked freely in assertions
type Json = any;

const load = (file: string): Json[] =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean);

/** Validates one object with the kubernetes-models class for its apiVersion and kind. */
async function validate(object: Json): Promise<void> {
  const module = await import(`kubernetes-models/${object.apiVersion}/${object.kind}`);
  const Model = module[object.kind] as new (data: Json) => { validate(): void };
  new Model(object).validate();
}

const manifests = () => {
  const files = [
    ...readdirSync(K8S)
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .map((f) => join(K8S, f)),
    ...readdirSync(join(K8S, 'example'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(K8S, 'example', f)),
  ];
  return files.flatMap((file) => load(file).map((object) => ({ file, object })));
};

const byKind = (kind: string, name?: string): Json =>
  manifests().find(({ object }) => object.kind === kind && (name === undefined || object.metadata.name === name))?.object;

describe('Kubernetes manifests', () => {
  it('are valid against the Kubernetes OpenAPI schemas', async () => {
    const all = manifests();
    expect(all.length).toBeGreaterThan(10);
    for (const { file, object } of all) {
      await expect(validate(object), `${file}: ${object.kind} ${object.metadata?.name}`).resolves.toBeUndefined();
    }
    const kustomization = load(join(K8S, 'kustomization.yaml'))[0];
    for (const resource of kustomization.resources) expect(existsSync(join(K8S, resource)), resource).toBe(true);
  });

  it('fit together: replicas, disruption budget, Service, webhook, RBAC, secrets', () => {
    const deployment = byKind('Deployment', 'weft-control-plane');
    const pod = deployment.spec.template;
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    const labels = pod.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    const pdb = byKind('PodDisruptionBudget');
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
    const svc = byKind('Service', 'weft-control-plane');
    expect(selects(svc.spec.selector)).toBe(true);

    // The webhook calls the Service on a port it exposes, at paths the server serves.
    const container = pod.spec.containers[0];
    const namedPorts = new Map(container.ports.map((p: Json) => [p.name, p.containerPort]));
    const webhook = byKind('MutatingWebhookConfiguration');
    expect(webhook.webhooks.map((w: Json) => w.clientConfig.service.path)).toEqual(['/inject/namespace', '/inject/pod']);
    for (const w of webhook.webhooks) {
      expect(w.clientConfig.service).toMatchObject({ name: svc.metadata.name, namespace: svc.metadata.namespace });
      const port = svc.spec.ports.find((p: Json) => p.port === w.clientConfig.service.port);
      expect(namedPorts.get(port.targetPort)).toBe(Number(container.args[container.args.indexOf('--webhook-port') + 1]));
    }
    // The discovery address injected sidecars dial is this Service's.
    const discovery = container.args[container.args.indexOf('--discovery-address') + 1];
    expect(discovery).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc:15010`);
    expect(discovery).toBe(DEFAULT_INJECTOR_CONFIG.discoveryAddress);

    // Least privilege: a service account bound to issuer discovery only; no Role grants anything else.
    const kinds = manifests().map(({ object }) => object.kind);
    expect(kinds).not.toContain('Role');
    expect(kinds).not.toContain('ClusterRole');
    const binding = byKind('ClusterRoleBinding');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'system:service-account-issuer-discovery',
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: pod.spec.serviceAccountName, namespace: 'weft-system' }]);

    // Runs as non-root, read-only, and is never injected itself.
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 2103 });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(labels['weft.io/inject']).toBe('disabled');
    expect(byKind('Namespace', 'weft-system').metadata.labels['weft.io/inject']).toBe('disabled');
  });

  it('generate-certs.sh makes the Secrets the Deployment mounts, valid, with a certificate for the webhook Service', async () => {
    const out = tempDir();
    execFileSync('bash', [join(K8S, 'generate-certs.sh'), out], { stdio: 'pipe' });
    const secrets = load(join(out, 'secrets.yaml'));
    for (const s of secrets) await validate(s);
    const mounted = byKind('Deployment', 'weft-control-plane').spec.template.spec.volumes.filter((v: Json) => v.secret);
    expect(secrets.map((s) => s.metadata.name).sort()).toEqual(mounted.map((v: Json) => v.secret.secretName).sort());
    const san = execFileSync('openssl', ['x509', '-in', join(out, 'webhook.crt'), '-noout', '-ext', 'subjectAltName']).toString();
    expect(san).toContain('DNS:weft-control-plane.weft-system.svc');
    expect(execFileSync('openssl', ['verify', '-CAfile', join(out, 'ca.crt'), join(out, 'webhook.crt')]).toString()).toContain('OK');
    const patch = JSON.parse(readFileSync(join(out, 'webhook-patch.json'), 'utf8'));
    expect(Buffer.from(patch[0].value, 'base64').toString()).toBe(readFileSync(join(out, 'ca.crt'), 'utf8'));
    expect((await import('node:fs')).statSync(join(out, 'ca.key')).mode & 0o777).toBe(0o600);
  });

  it("runs the control plane with the Deployment's own arguments, and the injected example's pods join it with their tokens", async () => {
    const certs = tempDir();
    execFileSync('bash', [join(K8S, 'generate-certs.sh'), certs], { stdio: 'pipe' });
    const k8s = await startFakeKubernetes();
    const mesh = join(tempDir(), 'mesh.yaml');
    writeFileSync(mesh, byKind('ConfigMap', 'weft-mesh').data['mesh.yaml']);
    const deployment = byKind('Deployment', 'weft-control-plane');
    const args: string[] = deployment.spec.template.spec.containers[0].args;
    expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(true);
    // Files where the volumes (and the service account's own mount) would put them, the API
    // server's JWKS at the stand-in issuer, and free loopback ports.
    const replace: Record<string, string> = {
      '/etc/weft/mesh/mesh.yaml': mesh,
      '/var/lib/weft': tempDir(),
      '/etc/weft/webhook/tls.crt': join(certs, 'webhook.crt'),
      '/etc/weft/webhook/tls.key': join(certs, 'webhook.key'),
      '/etc/weft/ca/tls.crt': join(certs, 'ca.crt'),
      '/etc/weft/ca/tls.key': join(certs, 'ca.key'),
      'https://kubernetes.default.svc/openid/v1/jwks': k8s.issuer.jwksUrl,
      '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt': k8s.caFile,
      '/var/run/secrets/kubernetes.io/serviceaccount/token': k8s.apiTokenFile,
      '0.0.0.0': '127.0.0.1',
      '8443': '0',
    };
    expect(args[0]).toBe('control-plane');
    expect(args[args.indexOf('--k8s-issuer') + 1]).toBe(k8s.issuer.issuer);
    const cp = await startControlPlane({ configPath: mesh, args: args.slice(1).map((a) => replace[a] ?? a) });
    expect(cp.webhookUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const config = (await (await fetch(`${cp.adminUrl}/api/config`)).json()) as {
      resources: { kind: string; metadata: { name: string } }[];
    };
    expect(config.resources.map((r) => `${r.kind} ${r.metadata.name}`).sort()).toEqual(['Route orders', 'Service orders', 'Service web']);
    // It signs with the weft-ca Secret's CA: the bundle sidecars get is generate-certs.sh's ca.crt.
    expect(readFileSync(cp.trustBundlePath, 'utf8')).toBe(readFileSync(join(certs, 'ca.crt'), 'utf8'));

    // The example, injected for this mesh CA: web's and orders' pods, started as the kubelet
    // would, get their identities from their tokens and carry a request web → orders over mTLS.
    const injected = await weft(['inject', '-q', '--trust-bundle', join(certs, 'ca.crt'), '-f', join(K8S, 'example', 'app.yaml')]);
    expect(injected.code).toBe(0);
    const template = (name: string): Json =>
      parseAllDocuments(injected.stdout)
        .map((d) => d.toJS())
        .find((o) => o?.kind === 'Deployment' && o.metadata.name === name).spec.template;
    const ordersApp = await startApp('orders');
    const pod = { namespace: 'shop', controlPlane: cp.xdsAddress, k8s };
    // Both orders versions (the route splits 90/10), serving from one stand-in app.
    const sidecars = await Promise.all([
      startInjectedProxy(template('orders-v1'), { ...pod, name: 'orders-v1-5d8f-x7k2p', appPort: ordersApp.port }),
      startInjectedProxy(template('orders-v2'), { ...pod, name: 'orders-v2-7c4b-m3n8d', appPort: ordersApp.port }),
      startInjectedProxy(template('web'), { ...pod, name: 'web-6b7c-q9z8r' }),
    ]);
    await Promise.all(sidecars.map((s) => s.waitReady()));
    const web = sidecars[2];
    expect((await sidecarIdentity(web)).certificate?.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/web');
    expect((await sidecarIdentity(sidecars[0])).certificate?.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/orders');
    await waitForMeshSync(cp, 3);
    const reply = await send({ port: web.outboundPort, host: 'orders' });
    expect(reply.status, reply.body).toBe(200);
    expect(ordersApp.received.at(-1)?.headers['x-weft-peer-identity']).toBe('spiffe://cluster.local/ns/shop/sa/web');
  });
});

describe('Dockerfiles', () => {
  const dockerfiles = readdirSync(join(DEPLOY, 'docker')).filter((f) => f.endsWith('.Dockerfile'));

  /** Instructions with line continuations joined and comments dropped. */
  const instructions = (file: string) =>
    readFileSync(join(DEPLOY, 'docker', file), 'utf8')
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => {
        const [op = '', ...rest] = l.split(/\s+/);
        return { op: op.toUpperCase(), args: rest.join(' ') };
      });

  it('are multi-stage on Node 24 slim, end as a numeric non-root user, and copy only files that exist', () => {
    expect(dockerfiles.sort()).toEqual(['control-plane.Dockerfile', 'examples.Dockerfile', 'proxy.Dockerfile']);
    for (const file of dockerfiles) {
      const ins = instructions(file);
      expect(ins.find((i) => i.op === 'ARG')?.args, file).toBe('NODE_IMAGE=node:24-slim');
      const froms = ins.filter((i) => i.op === 'FROM');
      expect(froms.length, file).toBeGreaterThanOrEqual(2);
      for (const f of froms) expect(f.args.split(' ')[0], file).toBe('$' + '{NODE_IMAGE}');
      const finalStage = ins.slice(ins.lastIndexOf(froms.at(-1) as (typeof ins)[number]));
      const user = finalStage.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
      expect(user, file).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      expect(finalStage.find((i) => i.op === 'ENTRYPOINT')?.args, file).toMatch(/^\[".*"\]$/);
      expect(
        ins.some((i) => i.op === 'ADD'),
        file,
      ).toBe(false);
      for (const copy of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
        const sources = copy.args.split(' ').slice(0, -1);
        for (const source of sources) expect(existsSync(join(ROOT, source)), `${file}: COPY ${source}`).toBe(true);
      }
    }
  });

  it('run the proxy as the uid the injector declares, exposing the ports it probes', () => {
    const ins = instructions('proxy.Dockerfile');
    expect(ins.filter((i) => i.op === 'USER').at(-1)?.args).toBe(`${DEFAULT_INJECTOR_CONFIG.proxyUid}:${DEFAULT_INJECTOR_CONFIG.proxyUid}`);
    const exposed = ins
      .find((i) => i.op === 'EXPOSE')
      ?.args.split(' ')
      .map(Number);
    expect(exposed).toEqual(
      expect.arrayContaining([
        DEFAULT_INJECTOR_CONFIG.inboundPort,
        DEFAULT_INJECTOR_CONFIG.outboundPort,
        DEFAULT_INJECTOR_CONFIG.adminPort,
      ]),
    );
    expect(DEFAULT_INJECTOR_CONFIG.proxyImage).toBe(`weft/proxy:${PROXY_VERSION}`);
    expect(INJECTED_PROXY_VERSION).toBe(PROXY_VERSION);
  });
});

describe('docker compose example', () => {
  const compose = load(join(DEPLOY, 'compose', 'compose.yaml'))[0];
  const services: Record<string, Json> = compose.services;

  it('holds each app until its sidecar is healthy, in the sidecar network namespace, and builds from files that exist', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const dep of Object.keys(svc.depends_on ?? {})) expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
      if (svc.build) {
        expect(existsSync(join(DEPLOY, 'compose', svc.build.context, svc.build.dockerfile)), `${name} build`).toBe(true);
      }
      const shared = /^service:(.+)$/.exec(svc.network_mode ?? '')?.[1];
      if (shared) {
        expect(services[shared]?.command[0], name).toBe('proxy');
        expect(svc.depends_on[shared], name).toEqual({ condition: 'service_healthy' });
      }
    }
    const apps = Object.values(services).filter((s) => s.network_mode);
    expect(apps).toHaveLength(2);
  });

  it("runs each sidecar's command for real", async () => {
    const cp = await startControlPlane({ configPath: join(DEPLOY, 'compose', 'mesh.yaml') });
    const proxies = Object.entries(services).filter(([, s]) => s.command?.[0] === 'proxy');
    expect(proxies.map(([n]) => n).sort()).toEqual(['ingress', 'orders-proxy', 'web-proxy']);
    await Promise.all(
      proxies.map(async ([name, svc]) => {
        const replace: Record<string, string> = { 'control-plane:15010': cp.xdsAddress, '0.0.0.0': '127.0.0.1' };
        const args = (svc.command as string[]).slice(1).map((a) => replace[a] ?? a);
        const serviceName = args[args.indexOf('--service') + 1] ?? name;
        const sidecar = await startSidecar({ service: serviceName, controlPlane: cp.xdsAddress, args });
        await sidecar.waitReady();
      }),
    );
  });
});

describe('systemd units', () => {
  it('pass systemd-analyze verify', () => {
    const probe = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    if (probe.error) {
      console.log(`systemd-analyze not installed (${probe.error.message}): skipped verifying the units`);
      return;
    }
    // verify insists that ExecStart's program exists; `weft` is installed by hand on a VM.
    const dir = tempDir();
    const units: [string, string][] = [
      ['weft-control-plane.service', 'weft-control-plane.service'],
      ['weft-proxy@.service', 'weft-proxy@orders.service'],
      ['orders.service.example', 'orders.service'],
    ];
    for (const [from, to] of units) {
      copyFileSync(join(DEPLOY, 'systemd', from), join(dir, to));
      writeFileSync(
        join(dir, to),
        readFileSync(join(dir, to), 'utf8').replaceAll('/usr/local/bin/weft', '/bin/true').replaceAll('/usr/bin/node', '/bin/true'),
      );
    }
    const result = spawnSync('systemd-analyze', ['verify', ...units.map(([, to]) => join(dir, to))], { encoding: 'utf8' });
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('give weft proxy flags it takes', async () => {
    const unit = readFileSync(join(DEPLOY, 'systemd', 'weft-proxy@.service'), 'utf8');
    const env = Object.fromEntries(
      readFileSync(join(DEPLOY, 'systemd', 'proxy.env.example'), 'utf8')
        .split('\n')
        .filter((l) => /^\w+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const cp = await startControlPlane({
      config: 'apiVersion: weft.io/v1alpha1\nkind: Service\nmetadata: {name: orders}\nspec: {port: 80}\n',
    });
    const execStart = /^ExecStart=\/usr\/local\/bin\/weft (.*)$/m.exec(unit)?.[1] ?? '';
    const overrides: Record<string, string> = { WEFT_CONTROL_PLANE: cp.xdsAddress, WEFT_ADMIN_PORT: '0', WEFT_APP_PORT: '1' };
    // systemd: ${X} is one word, $X splits on spaces; %H and %i are the host and the instance.
    const words = execStart
      .split(' ')
      .flatMap((w) => {
        const braced = /^\$\{(\w+)\}$/.exec(w);
        if (braced) return [overrides[braced[1] ?? ''] ?? env[braced[1] ?? ''] ?? ''];
        const bare = /^\$(\w+)$/.exec(w);
        if (bare) return (env[bare[1] ?? ''] ?? '').split(' ');
        return [w.replace('%H', 'vm1').replace('%i', 'orders')];
      })
      .filter(Boolean);
    expect(words[0]).toBe('proxy');
    const sidecar = await startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, args: words.slice(1) });
    await waitUntil(
      async () => (await fetch(`http://127.0.0.1:${sidecar.adminPort}/ready`)).ok,
      20_000,
      () => 'ready',
    );
    const dump = (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/config_dump`)).json()) as { node: Json };
    expect(dump.node).toMatchObject({ id: 'vm1-orders', service: 'orders', labels: { version: 'v1' } });
  });
});
