import { describe, expect, it } from 'vitest';
import { formatSpiffeId, parseSpiffeId } from './spiffe-id.ts';

describe('SPIFFE IDs', () => {
  it('round-trips a workload identity', () => {
    const id = formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'orders' });
    expect(id).toBe('spiffe://cluster.local/ns/default/sa/orders');
    expect(parseSpiffeId(id)).toEqual({
      ok: true,
      id,
      identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'orders' },
    });
  });

  it.each([
    ['http://cluster.local/ns/default/sa/orders', 'does not start with spiffe://'],
    ['spiffe://Cluster.Local/ns/default/sa/orders', 'trust domain'],
    ['spiffe://cluster.local/ns/default/sa/orders?x=1', 'no query'],
    ['spiffe://cluster.local/ns//sa/orders', 'path segment ""'],
    ['spiffe://cluster.local/ns/../sa/orders', 'path segment ".."'],
    ['spiffe://cluster.local/workload/orders', 'not a workload identity'],
  ])('rejects %s', (text, message) => {
    const parsed = parseSpiffeId(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toContain(message);
  });
});
