// AuthorizationPolicy: the inbound sidecar allows what a policy for its service allows
// (source identity, optionally narrowed to methods and path prefixes), answers anything
// else 403 naming the policy, allows everything when no policy names the service, and
// follows changes live.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  send,
  service,
  startApp,
  startControlPlane,
  startSidecar,
  tempDir,
  waitForMeshSync,
  weft,
  yamlDocs,
} from '../src/harness/index.ts';

function policy(name: string, spec: unknown): string {
  return stringify({ apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name }, spec });
}

const readers = policy('orders-readers', {
  service: 'orders',
  rules: [{ from: [{ service: 'web' }], methods: ['GET', 'HEAD'], pathPrefixes: ['/orders'] }],
});

describe('authorization', () => {
  it('allows and denies as written, and follows live changes', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('web'), service('batch'), service('orders'), readers) });
    const app = await startApp('orders');
    const [web, batch] = await Promise.all([
      startSidecar({ service: 'web', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'batch', controlPlane: cp.xdsAddress }),
      startSidecar({ service: 'orders', controlPlane: cp.xdsAddress, appPort: app.port }),
    ]);
    await waitForMeshSync(cp, 3);
    const call = (from: { outboundPort: number }, method: string, path: string) =>
      send({ port: from.outboundPort, host: 'orders', method, path });

    expect((await call(web, 'GET', '/orders/42')).status).toBe(200);
    expect((await call(web, 'HEAD', '/orders')).status).toBe(200);
    const seen = app.received.length;

    const wrongMethod = await call(web, 'POST', '/orders');
    expect(wrongMethod.status).toBe(403);
    expect(wrongMethod.headers['x-weft-response-flags']).toBe('RBAC');
    expect(wrongMethod.body).toBe(
      'weft: denied by AuthorizationPolicy default/orders-readers: spiffe://cluster.local/ns/default/sa/web may not POST /orders\n',
    );
    expect((await call(web, 'GET', '/admin')).status).toBe(403);
    const wrongCaller = await call(batch, 'GET', '/orders');
    expect(wrongCaller.status).toBe(403);
    expect(wrongCaller.body).toContain('spiffe://cluster.local/ns/default/sa/batch may not GET /orders');
    expect(app.received.length).toBe(seen); // denied requests never reach the app

    // Live: let batch post to /orders/import.
    const file = join(tempDir(), 'policy.yaml');
    writeFileSync(
      file,
      policy('orders-import', {
        service: 'orders',
        rules: [{ from: [{ service: 'batch' }], methods: ['POST'], pathPrefixes: ['/orders/import'] }],
      }),
    );
    expect((await weft(['apply', '-f', file, '--wait', '--server', cp.adminUrl])).code).toBe(0);
    expect((await call(batch, 'POST', '/orders/import')).status).toBe(200);
    expect((await call(batch, 'GET', '/orders')).status).toBe(403);
    const both = await call(batch, 'DELETE', '/orders');
    expect(both.body).toContain('denied by AuthorizationPolicies default/orders-import, default/orders-readers:');

    // No policy left for orders: every peer may call.
    writeFileSync(file, yamlDocs(readers, policy('orders-import', { service: 'orders', rules: [] })));
    expect((await weft(['delete', '-f', file, '--server', cp.adminUrl])).code).toBe(0);
    await waitForMeshSync(cp, 3);
    expect((await call(batch, 'DELETE', '/anything')).status).toBe(200);
  });

  it('refuses a policy for a service that does not exist, naming the field', async () => {
    const cp = await startControlPlane({ config: yamlDocs(service('web')) });
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, readers);
    const result = await weft(['apply', '-f', file, '--server', cp.adminUrl]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'bad.yaml, document 1, AuthorizationPolicy default/orders-readers: spec.service: no Service "orders" in namespace "default"',
    );
  });
});
