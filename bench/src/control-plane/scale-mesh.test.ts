import { formatConfigError, parseMeshYaml } from '@weft/control-plane';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { scaleMeshYaml, sharedRouteYaml } from './scale-mesh.ts';

describe('scaleMeshYaml', () => {
  it('declares N services calling the shared one, a client, the shared service and its route', () => {
    const docs = parseAllDocuments(scaleMeshYaml(3, 2)).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'Service/svc-0',
      'Service/svc-1',
      'Service/svc-2',
      'Service/client',
      'Service/shared',
      'Route/shared',
    ]);
    expect(docs[0].spec.calls).toEqual(['shared']);
    expect(docs[5].spec).toEqual({ hosts: ['shared'], rules: [{ timeout: '2s', backends: [{ service: 'shared' }] }] });
  });

  it('changes only the timeout from one push to the next', () => {
    expect(sharedRouteYaml(1)).not.toBe(sharedRouteYaml(2));
    expect(sharedRouteYaml(1).replace('1s', '2s')).toBe(sharedRouteYaml(2));
  });
});

describe('the control plane', () => {
  it('accepts the scale mesh and the route change as they are written', () => {
    for (const text of [scaleMeshYaml(2), sharedRouteYaml(7)]) {
      const parsed = parseMeshYaml(text, 'bench.yaml');
      expect(parsed.ok ? [] : parsed.errors.map(formatConfigError)).toEqual([]);
    }
  });
});
