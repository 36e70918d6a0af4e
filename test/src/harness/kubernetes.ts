// What a pod gets from Kubernetes, without a cluster: a service-account issuer whose keys are
// served as a JWKS over HTTPS (a certificate for 127.0.0.1 only the control plane is told to
// trust, behind a bearer token, as the API server's /openid/v1/jwks is), projected-style tokens
// it signs, and an injected pod's proxy started as the kubelet would start it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIssuerKey, type IssuerKey, ServiceAccountIssuer, type TokenSpec } from '@weft/control-plane/testing';
import { onCleanup, tempDir } from './cleanup.ts';
import { openssl } from './identity.ts';
import { type SidecarHandle, startSidecar } from './processes.ts';

export const K8S_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface FakeKubernetes {
  readonly issuer: ServiceAccountIssuer;
  /** The key tokens are signed with unless told otherwise. */
  readonly key: IssuerKey;
  /** The issuer's certificate: what --k8s-jwks-ca must name. */
  readonly caFile: string;
  /** The control plane's own token for the JWKS request. */
  readonly apiTokenFile: string;
  /** `weft control-plane` flags that trust this issuer. */
  readonly controlPlaneArgs: readonly string[];
  token(spec: Partial<TokenSpec> & { namespace: string; serviceAccount: string }, signWith?: IssuerKey): Promise<string>;
}

export async function startFakeKubernetes(): Promise<FakeKubernetes> {
  const dir = tempDir('weft-k8s-');
  const caFile = join(dir, 'api.crt');
  const keyFile = join(dir, 'api.key');
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    caFile,
    '-days',
    '1',
    '-subj',
    '/CN=kubernetes',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const apiToken = `control-plane-token-${process.pid}`;
  const apiTokenFile = join(dir, 'control-plane-token');
  writeFileSync(apiTokenFile, apiToken);
  const issuer = await ServiceAccountIssuer.start({
    issuer: K8S_ISSUER,
    tls: { cert: readFileSync(caFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
    bearerToken: apiToken,
  });
  onCleanup(() => issuer.close());
  const key = await createIssuerKey('sa-key-1');
  issuer.serve([key]);
  return {
    issuer,
    key,
    caFile,
    apiTokenFile,
    controlPlaneArgs: [
      '--k8s-issuer',
      K8S_ISSUER,
      '--k8s-jwks-url',
      issuer.jwksUrl,
      '--k8s-jwks-ca',
      caFile,
      '--k8s-jwks-token-file',
      apiTokenFile,
    ],
    token: (spec, signWith = key) => issuer.sign(signWith, spec),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a pod template as injection wrote it
type Json = any;

/**
 * Starts the `weft-proxy` container of an injected pod template as the kubelet would: its
 * $(VAR)s expanded from the downward API, its projected volume written out (a token for the
 * pod's service account, and ca.crt from the weft.io/trust-bundle annotation), listeners on
 * free loopback ports (and the app at `appPort`, if given), the control plane at `controlPlane`.
 */
export async function startInjectedProxy(
  template: Json,
  pod: { namespace: string; name: string; controlPlane: string; k8s: FakeKubernetes; appPort?: number },
): Promise<SidecarHandle & { tokenFile: string }> {
  const proxy = (template.spec.initContainers as Json[]).find((c) => c.name === 'weft-proxy');
  const volume = (template.spec.volumes as Json[]).find((v) => v.name === proxy.volumeMounts[0].name);
  const mount: string = proxy.volumeMounts[0].mountPath;
  const dir = tempDir('weft-pod-');
  const serviceAccount: string = template.spec.serviceAccountName ?? template.spec.serviceAccount ?? 'default';
  let tokenFile = '';
  for (const source of volume.projected.sources) {
    if (source.serviceAccountToken) {
      tokenFile = join(dir, source.serviceAccountToken.path);
      const audience = source.serviceAccountToken.audience;
      writeFileSync(tokenFile, await pod.k8s.token({ namespace: pod.namespace, serviceAccount, pod: pod.name, audience: [audience] }));
    }
    for (const item of source.downwardAPI?.items ?? []) {
      const annotation = /^metadata\.annotations\['(.+)'\]$/.exec(item.fieldRef.fieldPath)?.[1] ?? '';
      writeFileSync(join(dir, item.path), template.metadata.annotations[annotation] ?? '');
    }
  }
  const fromDownwardApi: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'status.podIP': '127.0.0.1',
    'spec.serviceAccountName': serviceAccount,
  };
  const env: Record<string, string> = Object.fromEntries(
    (proxy.env as Json[]).map((e) => [e.name, e.value ?? fromDownwardApi[e.valueFrom?.fieldRef?.fieldPath] ?? '']),
  );
  const overrides: Record<string, string> = {
    '--control-plane': pod.controlPlane,
    '--inbound-host': '127.0.0.1',
    '--inbound-port': '0',
    '--outbound-port': '0',
    '--admin-host': '127.0.0.1',
    '--admin-port': '0',
    ...(pod.appPort === undefined ? {} : { '--app-port': String(pod.appPort) }),
  };
  const args: string[] = (proxy.args as string[]).map((a) =>
    a.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? '').replace(mount, dir),
  );
  if (args[0] !== 'proxy') throw new Error(`the injected proxy runs "${args[0]}", not "proxy"`);
  const flags = args.slice(1).map((a, i, all) => overrides[all[i - 1] ?? ''] ?? a);
  const service = flags[flags.indexOf('--service') + 1] ?? '';
  const sidecar = await startSidecar({ service, controlPlane: pod.controlPlane, nodeId: pod.name, args: flags });
  return { ...sidecar, tokenFile };
}
