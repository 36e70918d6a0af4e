import { describe, expect, it } from 'vitest';
import { Authorizer } from './authorization.ts';

const web = 'spiffe://cluster.local/ns/default/sa/web';
const ops = 'spiffe://cluster.local/ns/ops/sa/debugger';

describe('Authorizer', () => {
  const authorizer = new Authorizer([
    {
      name: 'default/readers',
      rules: [
        { from: [{ kind: 'exact', value: web }], methods: ['GET', 'HEAD'], pathPrefixes: ['/orders'] },
        { from: [{ kind: 'prefix', value: 'spiffe://cluster.local/ns/ops/sa/' }], methods: [], pathPrefixes: [] },
      ],
    },
    { name: 'default/health', rules: [{ from: [], methods: ['GET'], pathPrefixes: ['/health'] }] },
  ]);

  it('allows what some rule of some policy allows', () => {
    expect(authorizer.check(web, 'GET', '/orders/7')).toBeUndefined();
    expect(authorizer.check(ops, 'DELETE', '/anything')).toBeUndefined();
    expect(authorizer.check(undefined, 'GET', '/health')).toBeUndefined();
  });

  it('denies the rest, naming every policy', () => {
    expect(authorizer.check(web, 'POST', '/orders')).toEqual(['default/readers', 'default/health']);
    expect(authorizer.check(web, 'GET', '/admin')).toEqual(['default/readers', 'default/health']);
    expect(authorizer.check(undefined, 'GET', '/orders')).toEqual(['default/readers', 'default/health']);
    expect(authorizer.check('spiffe://cluster.local/ns/default/sa/webby', 'GET', '/orders')).toBeDefined();
  });

  it('denies everything with a policy that has no rules', () => {
    expect(new Authorizer([{ name: 'default/lockdown', rules: [] }]).check(web, 'GET', '/')).toEqual(['default/lockdown']);
  });
});
