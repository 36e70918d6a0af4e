// The admission webhook over real HTTPS, with the certificates deploy/kubernetes/generate-certs.sh
// makes and real AdmissionReview v1 payloads: the JSON Patch it answers, applied to the pod
// (by fast-json-patch, and by kubectl's own implementation when kubectl is installed), gives
// exactly the pod `weft inject` gives.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlaneHandle, startControlPlane, tempDir, weft } from '../src/harness/index.ts';

const DEPLOY = join(import.meta.dirname, '../../deploy/kubernetes');
const REVIEW = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/admission-review-pod.json'), 'utf8'));
const SERVICE_NAME = 'weft-control-plane.weft-system.svc';

// biome-ignore lint/suspicious/noExplicitAny: AdmissionReview JSON, walked freely in assertions
type Json = any;

let certs: string;
beforeAll(() => {
  // Made once for the file (test-scoped cleanup runs after each test), removed after all.
  certs = mkdtempSync(join(tmpdir(), 'weft-webhook-certs-'));
  execFileSync('bash', [join(DEPLOY, 'generate-certs.sh'), certs], { stdio: 'pipe' });
});
afterAll(() => rmSync(certs, { recursive: true, force: true }));

async function startWithWebhook(): Promise<ControlPlaneHandle> {
  return startControlPlane({
    config: '',
    args: ['--webhook-port', '0', '--webhook-cert', join(certs, 'webhook.crt'), '--webhook-key', join(certs, 'webhook.key')],
  });
}

/** POSTs over HTTPS, trusting only the generated CA and checking the Service's DNS name. */
function post(
  cp: ControlPlaneHandle,
  path: string,
  body: string,
  contentType = 'application/json',
): Promise<{ status: number; json: Json }> {
  const url = new URL(path, cp.webhookUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: path === '/ready' ? 'GET' : 'POST',
        ca: readFileSync(join(certs, 'ca.crt')),
        servername: SERVICE_NAME,
        headers: { 'content-type': contentType },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function review(mutate: (pod: Json) => void = () => {}, request: Record<string, unknown> = {}): Json {
  const copy = structuredClone(REVIEW);
  mutate(copy.request.object);
  Object.assign(copy.request, request);
  return copy;
}

function patchOf(response: Json): Json[] | undefined {
  return response.response.patch === undefined ? undefined : JSON.parse(Buffer.from(response.response.patch, 'base64').toString('utf8'));
}

describe('admission webhook', () => {
  it('answers a pod in an injected namespace with a JSON Patch that gives exactly what weft inject gives', async () => {
    const cp = await startWithWebhook();
    const { status, json } = await post(cp, '/inject/namespace', JSON.stringify(REVIEW));
    expect(status).toBe(200);
    expect(json).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: REVIEW.request.uid, allowed: true, patchType: 'JSONPatch' },
    });
    const patch = patchOf(json) ?? [];
    expect(fastJsonPatch.validate(patch, REVIEW.request.object)).toBeUndefined();
    const patched = fastJsonPatch.applyPatch(structuredClone(REVIEW.request.object), patch, true, false).newDocument;

    const cli = await weft(['inject', '-q', '--trust-bundle', cp.trustBundlePath], { input: JSON.stringify(REVIEW.request.object) });
    expect(cli.code).toBe(0);
    expect(patched).toEqual(JSON.parse(cli.stdout));
    // The pod starts with the CA's own trust bundle, projected beside its service-account token.
    expect(patched.metadata.annotations['weft.io/trust-bundle']).toBe(readFileSync(cp.trustBundlePath, 'utf8'));
    // The controller's per-pod label is not announced; the template's labels are.
    const proxy = patched.spec.initContainers[1];
    expect(proxy.args).toEqual(expect.arrayContaining(['--service', 'web', '--label', 'app=web', '--label', 'version=v1']));
    expect(proxy.args.join(' ')).not.toContain('pod-template-hash');

    // kubectl applies JSON Patches with the library the API server itself uses.
    const kubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    if (kubectl.error) {
      console.log(`kubectl not installed (${kubectl.error.message}): skipped applying the patch with kubectl`);
      return;
    }
    const dir = tempDir();
    writeFileSync(join(dir, 'pod.json'), JSON.stringify(REVIEW.request.object));
    const out = execFileSync('kubectl', [
      'patch',
      '--local',
      '-f',
      join(dir, 'pod.json'),
      '--type=json',
      '-p',
      JSON.stringify(patch),
      '-o',
      'json',
    ]);
    const byKubectl = JSON.parse(out.toString());
    expect(byKubectl.spec.initContainers).toEqual(patched.spec.initContainers);
    expect(byKubectl.spec.volumes).toEqual(patched.spec.volumes);
    expect(byKubectl.metadata.annotations).toEqual(patched.metadata.annotations);
  });

  it('injects nothing into a pod it has injected already', async () => {
    const cp = await startWithWebhook();
    const first = patchOf((await post(cp, '/inject/namespace', JSON.stringify(REVIEW))).json) ?? [];
    const injected = fastJsonPatch.applyPatch(structuredClone(REVIEW.request.object), first, true, false).newDocument;
    const { json } = await post(cp, '/inject/namespace', JSON.stringify(review((pod) => Object.assign(pod, injected))));
    expect(json.response).toEqual({ uid: REVIEW.request.uid, allowed: true });
  });

  it('outside injected namespaces, injects only pods that opt in', async () => {
    const cp = await startWithWebhook();
    const plain = await post(cp, '/inject/pod', JSON.stringify(REVIEW));
    expect(plain.json.response).toEqual({ uid: REVIEW.request.uid, allowed: true });
    const optedIn = review((pod) => {
      pod.metadata.annotations = { 'weft.io/inject': 'enabled' };
    });
    const { json } = await post(cp, '/inject/pod', JSON.stringify(optedIn));
    const patched = fastJsonPatch.applyPatch(structuredClone(optedIn.request.object), patchOf(json) ?? [], true, false).newDocument;
    expect(patched.spec.initContainers.map((c: Json) => c.name)).toEqual(['weft-init', 'weft-proxy']);
    expect(patched.metadata.annotations['weft.io/inject']).toBe('enabled');
  });

  it('leaves a pod that opts out alone, in an injected namespace too', async () => {
    const cp = await startWithWebhook();
    const optedOut = review((pod) => {
      pod.metadata.annotations = { 'weft.io/inject': 'disabled' };
    });
    const { json } = await post(cp, '/inject/namespace', JSON.stringify(optedOut));
    expect(json.response).toEqual({ uid: REVIEW.request.uid, allowed: true });
  });

  it('refuses a pod with a bad annotation, saying which', async () => {
    const cp = await startWithWebhook();
    const bad = review((pod) => {
      pod.metadata.annotations = { 'weft.io/proxy-memory-limit': 'lots' };
    });
    const { status, json } = await post(cp, '/inject/namespace', JSON.stringify(bad));
    expect(status).toBe(200);
    expect(json.response).toEqual({
      uid: REVIEW.request.uid,
      allowed: false,
      status: {
        code: 400,
        message:
          'weft sidecar injection: metadata.annotations["weft.io/proxy-memory-limit"]: "lots" is not a Kubernetes quantity (e.g. 100m, 0.5, 64Mi)',
      },
    });
  });

  it('refuses a pod whose service account is not its Weft service, saying how to fix it', async () => {
    const cp = await startWithWebhook();
    const asDefault = review((pod) => {
      pod.spec.serviceAccountName = 'default';
      pod.spec.serviceAccount = 'default';
    });
    const { json } = await post(cp, '/inject/namespace', JSON.stringify(asDefault));
    expect(json.response).toMatchObject({ allowed: false, status: { code: 400 } });
    expect(json.response.status.message).toBe(
      'weft sidecar injection: spec.serviceAccountName: the pod runs as service account "default" but serves Weft service "web" (from metadata.labels.app); a pod\'s Weft service is its service account, whose token proves its identity: set serviceAccountName: web (and create that ServiceAccount), or annotation weft.io/service: default',
    );
  });

  it('allows what is not a pod creation unchanged, and rejects what is not an AdmissionReview', async () => {
    const cp = await startWithWebhook();
    const update = await post(cp, '/inject/namespace', JSON.stringify(review(() => {}, { operation: 'UPDATE' })));
    expect(update.json.response).toEqual({ uid: REVIEW.request.uid, allowed: true });
    const malformed = await post(cp, '/inject/namespace', '{"kind": "AdmissionReview"');
    expect(malformed.status).toBe(400);
    const wrongVersion = await post(cp, '/inject/namespace', JSON.stringify({ ...REVIEW, apiVersion: 'admission.k8s.io/v1beta1' }));
    expect(wrongVersion.status).toBe(400);
    expect(wrongVersion.json.error).toContain('apiVersion');
    const notJson = await post(cp, '/inject/namespace', 'x', 'text/plain');
    expect(notJson.status).toBe(415);
    expect((await post(cp, '/ready', '')).status).toBe(200);
  });
});
