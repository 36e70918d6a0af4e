import { describe, expect, it } from 'vitest';
import { formatConfigError } from './config-error.ts';
import { parseDurationMs } from './duration.ts';
import { parseMeshYaml } from './parse.ts';

const errorsOf = (text: string) => {
  const result = parseMeshYaml(text, 'mesh.yaml');
  return result.ok ? [] : result.errors.map(formatConfigError);
};

describe('parseMeshYaml', () => {
  it('parses every kind with defaults filled in', () => {
    const result = parseMeshYaml(
      `apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: orders}
spec: {port: 80}
---
apiVersion: weft.io/v1alpha1
kind: Route
metadata: {name: orders, namespace: shop}
spec:
  hosts: [orders]
  rules:
    - match: {path: {prefix: /api}, headers: [{name: X-Canary, exact: "true"}]}
      timeout: 1500ms
      backends: [{service: orders, subset: {version: v2}}]
`,
      'mesh.yaml',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [svc, rt] = result.documents;
    expect(svc?.resource).toMatchObject({ kind: 'Service', metadata: { namespace: 'default' }, spec: { protocol: 'http', port: 80 } });
    expect(rt?.document).toBe(2);
    expect(rt?.resource).toMatchObject({
      kind: 'Route',
      spec: {
        rules: [
          {
            path: { kind: 'prefix', value: '/api' },
            headers: [{ name: 'x-canary', kind: 'exact', value: 'true', invert: false }],
            timeoutMs: 1500,
            backends: [{ service: 'orders', namespace: 'shop', subset: { version: 'v2' }, weight: 100 }],
          },
        ],
      },
    });
  });

  it('names file, line, document, resource and field for each problem', () => {
    expect(
      errorsOf(`apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: orders}
spec: {port: 80}
---
apiVersion: weft.io/v1alpha1
kind: Service
metadata: {name: Bad_Name}
spec:
  port: 99999
  protocl: http
`),
    ).toEqual([
      'mesh.yaml:8, document 2, Service default/Bad_Name: metadata.name: must be a DNS label: lower-case letters, digits and "-", starting and ending alphanumeric',
      'mesh.yaml:10, document 2, Service default/Bad_Name: spec.port: Too big: expected number to be <=65535',
      'mesh.yaml:11, document 2, Service default/Bad_Name: spec.protocl: unknown field',
    ]);
  });

  it('rejects unknown kinds, wrong apiVersions and YAML syntax errors', () => {
    expect(errorsOf('apiVersion: weft.io/v1alpha1\nkind: Gateway\nmetadata: {name: g}\n')).toEqual([
      'mesh.yaml:2, document 1, Gateway default/g: kind: unknown kind "Gateway"; expected one of Service, Route, Workload, AuthorizationPolicy, DestinationPolicy',
    ]);
    expect(errorsOf('apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {port: 1}\n')[0]).toContain(
      'apiVersion: Invalid input: expected "weft.io/v1alpha1"',
    );
    expect(errorsOf('kind: Service\n  bad: [indent\n')[0]).toMatch(/^mesh\.yaml:\d+, document 1: YAML: /);
  });

  it('checks path and header matchers have exactly one kind and weights add up', () => {
    const errors = errorsOf(`apiVersion: weft.io/v1alpha1
kind: Route
metadata: {name: r}
spec:
  hosts: [orders]
  rules:
    - match: {path: {exact: /a, prefix: /b}}
      backends: [{service: orders}]
    - backends: [{service: orders, weight: 30}, {service: orders, weight: 30}]
`);
    expect(errors).toEqual([
      'mesh.yaml:7, document 1, Route default/r: spec.rules[0].match.path: give exactly one of exact, prefix or regex',
      'mesh.yaml:9, document 1, Route default/r: spec.rules[1].backends: weights add up to 60; they must add up to 100',
    ]);
  });
  it('checks retry policies, naming the condition or field', () => {
    expect(
      errorsOf(`apiVersion: weft.io/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  hosts: [orders]
  rules:
    - timeout: 1s
      retries: {attempts: 11, perTryTimeout: 2s, retryOn: [5xx, teapot, 700], backoff: {base: 100ms, max: 10ms}}
      backends: [{service: orders}]
`),
    ).toEqual([
      'mesh.yaml:8, document 1, Route default/orders: spec.rules[0].retries.attempts: Too big: expected number to be <=10',
      'mesh.yaml:8, document 1, Route default/orders: spec.rules[0].retries.retryOn[1]: unknown retry condition "teapot"; expected one of 5xx, gateway-error, reset, connect-failure, cancelled, deadline-exceeded, resource-exhausted, unavailable or a status code',
      'mesh.yaml:8, document 1, Route default/orders: spec.rules[0].retries.retryOn[2]: 700 is not an HTTP status code',
    ]);
    expect(
      errorsOf(`apiVersion: weft.io/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  hosts: [orders]
  rules:
    - timeout: 1s
      retries: {perTryTimeout: 2s, backoff: {base: 100ms, max: 10ms}}
      backends: [{service: orders}]
`),
    ).toEqual([
      'mesh.yaml:8, document 1, Route default/orders: spec.rules[0].retries.backoff.max: must not be below the base (100 ms)',
      "mesh.yaml:8, document 1, Route default/orders: spec.rules[0].retries.perTryTimeout: must not exceed the rule's timeout (1000 ms)",
    ]);
  });
});

describe('AuthorizationPolicy', () => {
  it('resolves service principals in the policy namespace and names bad principals', () => {
    const good = parseMeshYaml(
      `apiVersion: weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: p, namespace: shop}
spec:
  service: orders
  rules:
    - from: [{service: web}, {service: billing, namespace: finance}, {namespace: ops}]
      methods: [GET]
      pathPrefixes: [/orders]
    - {}
`,
      'mesh.yaml',
    );
    expect(good.ok).toBe(true);
    if (!good.ok) return;
    expect(good.documents[0]?.resource).toMatchObject({
      spec: {
        rules: [
          {
            from: [
              { kind: 'service', service: 'web', namespace: 'shop' },
              { kind: 'service', service: 'billing', namespace: 'finance' },
              { kind: 'namespace', namespace: 'ops' },
            ],
            methods: ['GET'],
            pathPrefixes: ['/orders'],
          },
          { from: [], methods: [], pathPrefixes: [] },
        ],
      },
    });
    expect(
      errorsOf(`apiVersion: weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: p}
spec:
  service: orders
  rules:
    - from: [{identity: "spiffe://td/workload/x"}, {}, {service: web, identity: "spiffe://td/ns/a/sa/b"}]
      methods: [get]
      pathPrefixes: [orders]
`),
    ).toEqual([
      'mesh.yaml:7, document 1, AuthorizationPolicy default/p: spec.rules[0].from[0].identity: "spiffe://td/workload/x" is not a workload identity (spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)',
      'mesh.yaml:7, document 1, AuthorizationPolicy default/p: spec.rules[0].from[1]: give service (and namespace), namespace, or identity',
      'mesh.yaml:7, document 1, AuthorizationPolicy default/p: spec.rules[0].from[2]: give identity alone, or service (and namespace), or namespace alone',
      'mesh.yaml:8, document 1, AuthorizationPolicy default/p: spec.rules[0].methods[0]: methods are upper-case, like GET',
      'mesh.yaml:9, document 1, AuthorizationPolicy default/p: spec.rules[0].pathPrefixes[0]: Invalid string: must start with "/"',
    ]);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['250ms', 250],
    ['2s', 2000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
  ])('%s → %d ms', (text, ms) => expect(parseDurationMs(text)).toBe(ms));

  it.each(['', '5', 'ten seconds', '5 s', '-1s'])('refuses %j', (text) => expect(parseDurationMs(text)).toBeUndefined());
});
