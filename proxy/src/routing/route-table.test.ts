import { describe, expect, it } from 'vitest';
import { hostWithoutPort, type RouteSpec, RouteTable } from './route-table.ts';

const route = (name: string, spec: Partial<RouteSpec> = {}): RouteSpec => ({
  name,
  path: { kind: 'prefix', value: '/' },
  headers: [],
  methods: [],
  clusters: [{ name, weight: 1 }],
  timeoutMs: 0,
  retry: undefined,
  ...spec,
});

describe('RouteTable', () => {
  const table = new RouteTable('outbound', [
    {
      name: 'orders',
      domains: ['orders', 'orders.default'],
      routes: [route('exact', { path: { kind: 'exact', value: '/a' } }), route('orders')],
    },
    { name: 'wild', domains: ['*.example.com'], routes: [route('wild')] },
    { name: 'wilder', domains: ['*.api.example.com'], routes: [route('wilder')] },
  ]);
  const match = (host: string, path = '/', method = 'GET', headers: Record<string, string> = {}) =>
    table.match(host, path, method, () => headers)?.name;

  it('finds the virtual host by Host without its port, case-insensitively', () => {
    expect(match('orders')).toBe('orders');
    expect(match('ORDERS.default:8080')).toBe('orders');
    expect(match('unknown')).toBeUndefined();
  });

  it('prefers exact domains, then the longest wildcard suffix', () => {
    expect(match('a.example.com')).toBe('wild');
    expect(match('v1.api.example.com')).toBe('wilder');
    expect(match('example.com')).toBeUndefined();
  });

  it('takes the first matching route in order', () => {
    expect(match('orders', '/a')).toBe('exact');
    expect(match('orders', '/a/b')).toBe('orders');
  });

  it('matches methods and headers, including inverted and regex matchers', () => {
    const t = new RouteTable('x', [
      {
        name: 'h',
        domains: ['h'],
        routes: [
          route('post-only', { methods: ['POST'] }),
          route('not-internal', {
            headers: [
              { name: 'x-internal', kind: 'present', invert: true },
              { name: 'x-v', kind: 'regex', value: /^(?:v[0-9]+)$/, invert: false },
            ],
          }),
          route('fallback'),
        ],
      },
    ]);
    const m = (method: string, headers: Record<string, string>) => t.match('h', '/', method, () => headers)?.name;
    expect(m('POST', {})).toBe('post-only');
    expect(m('GET', { 'x-v': 'v2' })).toBe('not-internal');
    expect(m('GET', { 'x-v': 'v2', 'x-internal': '1' })).toBe('fallback');
    expect(m('GET', { 'x-v': 'v2x' })).toBe('fallback');
  });

  it('does not read headers when no route needs them', () => {
    let read = false;
    table.match('orders', '/x', 'GET', () => {
      read = true;
      return {};
    });
    expect(read).toBe(false);
  });

  it('lists every cluster its routes can send to', () => {
    expect([...table.clusterNames].sort()).toEqual(['exact', 'orders', 'wild', 'wilder']);
  });

  it('strips ports from IPv6 literals and names', () => {
    expect(hostWithoutPort('[::1]:8080')).toBe('[::1]');
    expect(hostWithoutPort('Orders:80')).toBe('orders');
  });
});
