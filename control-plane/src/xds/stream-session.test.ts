import { create } from '@bufbuild/protobuf';
import { DiscoveryRequestSchema, type DiscoveryResponse, TYPE_URL } from '@weft/proto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../snapshot/builder.ts';
import { StreamSession } from './stream-session.ts';

const log = pino({ level: 'silent' });
const node = {
  id: 'n1',
  service: 'orders',
  namespace: 'default',
  identity: 'spiffe://cluster.local/ns/default/sa/orders',
  labels: {},
  inboundAddress: '',
  proxyVersion: '',
  discovery: 'all' as const,
};

function snapshot(changeId: number, versions: Partial<Record<keyof typeof TYPE_URL, string>> = {}): Snapshot {
  const t = (v: string) => ({ version: v, resources: [] });
  return {
    changeId,
    types: {
      trustBundle: t(versions.trustBundle ?? 'b1'),
      cluster: t(versions.cluster ?? 'c1'),
      endpoint: t(versions.endpoint ?? 'e1'),
      listener: t(versions.listener ?? 'l1'),
      route: t(versions.route ?? 'r1'),
    },
  };
}

function session() {
  const sent: DiscoveryResponse[] = [];
  const s = new StreamSession({ node, send: (r) => sent.push(r), log, controlPlaneId: 'cp' });
  const request = (type: keyof typeof TYPE_URL, fields: { versionInfo?: string; responseNonce?: string; error?: string } = {}) =>
    s.onRequest(
      create(DiscoveryRequestSchema, {
        typeUrl: TYPE_URL[type],
        versionInfo: fields.versionInfo ?? '',
        responseNonce: fields.responseNonce ?? '',
        ...(fields.error ? { errorDetail: { code: 3, message: fields.error } } : {}),
      }),
    );
  const subscribeAll = () => {
    for (const type of ['trustBundle', 'cluster', 'endpoint', 'listener', 'route'] as const) request(type);
  };
  const ackAll = () => {
    for (const r of sent.splice(0)) {
      const type = (Object.keys(TYPE_URL) as (keyof typeof TYPE_URL)[]).find((k) => TYPE_URL[k] === r.typeUrl);
      if (type) request(type, { versionInfo: r.versionInfo, responseNonce: r.nonce });
    }
  };
  return { s, sent, request, subscribeAll, ackAll };
}

describe('StreamSession', () => {
  it('sends each subscribed type once, in push order, and counts a change as synced after all ACKs', () => {
    const { s, sent, subscribeAll, ackAll } = session();
    s.push(snapshot(5));
    expect(sent).toHaveLength(0); // nothing before the sidecar subscribes
    subscribeAll();
    expect(sent.map((r) => r.typeUrl)).toEqual([
      TYPE_URL.trustBundle,
      TYPE_URL.cluster,
      TYPE_URL.endpoint,
      TYPE_URL.listener,
      TYPE_URL.route,
    ]);
    expect(s.syncedChangeId).toBe(0);
    ackAll();
    expect(s.syncedChangeId).toBe(5);
    expect(s.status().types.route).toEqual({ status: 'SYNCED', version: 'r1' });
  });

  it('sends only the types whose version changed, and moves unchanged types to the new change', () => {
    const { s, sent, subscribeAll, ackAll } = session();
    subscribeAll();
    s.push(snapshot(1));
    ackAll();
    s.push(snapshot(2, { route: 'r2' }));
    expect(sent.map((r) => r.versionInfo)).toEqual(['r2']);
    expect(sent[0]?.changeId).toBe(2n);
    ackAll();
    expect(s.syncedChangeId).toBe(2);
  });

  it('records a NACK, keeps reporting it until a new version is ACKed, and ignores stale nonces', () => {
    const { s, sent, request, subscribeAll, ackAll } = session();
    subscribeAll();
    s.push(snapshot(1));
    ackAll();
    s.push(snapshot(2, { listener: 'bad' }));
    const bad = sent.splice(0)[0] as DiscoveryResponse;
    request('listener', { versionInfo: 'l1', responseNonce: bad.nonce, error: 'port in use' });
    expect(s.status().types.listener).toEqual({ status: 'NACKED', version: 'l1', error: 'port in use' });
    expect(s.nackFor(2)).toEqual({ type: 'listener', message: 'port in use' });
    expect(s.syncedChangeId).toBe(1);

    s.push(snapshot(3, { listener: 'good' }));
    const good = sent.splice(0)[0] as DiscoveryResponse;
    request('listener', { versionInfo: 'bad', responseNonce: bad.nonce }); // stale: answers the older response
    expect(s.syncedChangeId).toBe(1);
    request('listener', { versionInfo: 'good', responseNonce: good.nonce });
    expect(s.syncedChangeId).toBe(3);
    expect(s.nackFor(3)).toBeUndefined();
  });

  it('does not resend what a reconnecting sidecar already holds', () => {
    const { s, sent, request } = session();
    s.push(snapshot(7));
    for (const [type, version] of [
      ['trustBundle', 'b1'],
      ['cluster', 'c1'],
      ['endpoint', 'e1'],
      ['listener', 'l1'],
      ['route', 'old'],
    ] as const) {
      request(type, { versionInfo: version });
    }
    expect(sent.map((r) => r.versionInfo)).toEqual(['r1']);
  });

  it('never sends a route before the clusters and endpoints of the target it belongs to', () => {
    // An on-demand sidecar reconnects: it subscribes to clusters for its old target, then
    // its route subscription names hosts, which moves the target (as the discovery server
    // does: retarget, then handle the request).
    const { s, sent, request } = session();
    s.push(snapshot(1));
    for (const type of ['trustBundle', 'cluster', 'endpoint', 'listener'] as const) request(type);
    sent.splice(0);
    s.retarget(snapshot(2, { cluster: 'c2', endpoint: 'e2', route: 'r2' }));
    request('route');
    expect(sent.map((r) => r.versionInfo)).toEqual(['c2', 'e2', 'r2']);
  });
});

describe('StreamSession interest (on-demand discovery)', () => {
  const onDemand = { ...node, discovery: 'on-demand' as const };
  const request = (names: string[], nonce = '') =>
    create(DiscoveryRequestSchema, { typeUrl: TYPE_URL.route, resourceNames: names, responseNonce: nonce });

  it('starts empty and takes the hosts a route request names, port and case ignored', () => {
    const s = new StreamSession({ node: onDemand, send: () => {}, log, controlPlaneId: 'cp' });
    expect(s.interest).toEqual({ kind: 'hosts', hosts: [] });
    expect(s.updateInterest(request(['Orders:8080', 'payments']))).toBe(true);
    expect(s.interest).toEqual({ kind: 'hosts', hosts: ['orders', 'payments'] });
    // The same list again (an ACK states the whole subscription) is no change, stale nonce or not.
    expect(s.updateInterest(request(['payments', 'orders'], 'old'))).toBe(false);
  });

  it('ignores resource names from a sidecar that asked for everything', () => {
    const s = new StreamSession({ node, send: () => {}, log, controlPlaneId: 'cp' });
    expect(s.updateInterest(request(['orders']))).toBe(false);
    expect(s.interest).toEqual({ kind: 'all' });
  });

  it('answers a forced type even when its version did not change', () => {
    const sent: DiscoveryResponse[] = [];
    const s = new StreamSession({ node: onDemand, send: (r) => sent.push(r), log, controlPlaneId: 'cp' });
    s.onRequest(request([]));
    s.push(snapshot(1));
    expect(sent.map((r) => r.versionInfo)).toEqual(['r1']);
    s.push(snapshot(1), 'route');
    expect(sent.map((r) => r.versionInfo)).toEqual(['r1', 'r1']);
    expect(sent[1]?.nonce).not.toBe(sent[0]?.nonce);
  });
});
