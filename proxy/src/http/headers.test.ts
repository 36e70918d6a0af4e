import { describe, expect, it } from 'vitest';
import { forwardRequestHeaders, forwardResponseHeaders } from './headers.ts';

const pairs = (flat: string[]) => {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
};

describe('forwardRequestHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection', () => {
    const out = forwardRequestHeaders(
      [
        'Host',
        'orders',
        'Connection',
        'keep-alive, X-Trace-Hop',
        'X-Trace-Hop',
        '1',
        'Keep-Alive',
        'timeout=5',
        'TE',
        'trailers',
        'Accept',
        '*/*',
        'x-request-id',
        'r1',
      ],
      { clientAddress: undefined, host: undefined },
    );
    expect(pairs(out)).toEqual([
      ['Host', 'orders'],
      ['Accept', '*/*'],
      ['x-request-id', 'r1'],
      ['x-forwarded-proto', 'http'],
    ]);
  });

  it('appends the client to x-forwarded-for, merging repeated headers', () => {
    const out = forwardRequestHeaders(
      ['X-Forwarded-For', '10.0.0.1', 'x-forwarded-for', '10.0.0.2', 'x-forwarded-proto', 'https', 'x-request-id', 'r'],
      {
        clientAddress: '127.0.0.1',
        host: undefined,
      },
    );
    expect(pairs(out)).toEqual([
      ['x-forwarded-proto', 'https'],
      ['x-request-id', 'r'],
      ['x-forwarded-for', '10.0.0.1, 10.0.0.2, 127.0.0.1'],
    ]);
  });

  it('replaces Host for absolute-form requests and adds a request id', () => {
    const out = pairs(forwardRequestHeaders(['Host', 'proxy:15001'], { clientAddress: undefined, host: 'orders:80' }));
    expect(out.filter(([k]) => k.toLowerCase() === 'host')).toEqual([['host', 'orders:80']]);
    expect(out.find(([k]) => k === 'x-request-id')?.[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('the peer identity header', () => {
  it('replaces a forged x-weft-peer-identity with the verified one, or drops it for plaintext peers', () => {
    const forged = ['X-Weft-Peer-Identity', 'spiffe://cluster.local/ns/default/sa/admin', 'x-request-id', 'r'];
    const verified = pairs(
      forwardRequestHeaders(forged, {
        clientAddress: undefined,
        host: undefined,
        peerIdentity: 'spiffe://cluster.local/ns/default/sa/web',
      }),
    );
    expect(verified.filter(([k]) => k.toLowerCase() === 'x-weft-peer-identity')).toEqual([
      ['x-weft-peer-identity', 'spiffe://cluster.local/ns/default/sa/web'],
    ]);
    const plaintext = pairs(forwardRequestHeaders(forged, { clientAddress: undefined, host: undefined, peerIdentity: '' }));
    expect(plaintext.filter(([k]) => k.toLowerCase() === 'x-weft-peer-identity')).toEqual([]);
  });

  it('never forwards x-weft-source: the app does not see it, and cannot send one for its sidecar', () => {
    const raw = ['X-Weft-Source', 'web/default/v1', 'x-request-id', 'r'];
    const inbound = pairs(forwardRequestHeaders(raw, { clientAddress: undefined, host: undefined, peerIdentity: '' }));
    expect(inbound.filter(([k]) => k.toLowerCase() === 'x-weft-source')).toEqual([]);
    const outbound = pairs(forwardRequestHeaders(raw, { clientAddress: undefined, host: undefined }));
    expect(outbound.filter(([k]) => k.toLowerCase() === 'x-weft-source')).toEqual([]);
    expect(outbound).toContainEqual(['x-request-id', 'r']);
  });
});

describe('forwardResponseHeaders', () => {
  it('drops hop-by-hop headers from upstream responses', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'close, X-Private', 'X-Private', 'a', 'Transfer-Encoding', 'chunked'];
    expect(pairs(forwardResponseHeaders(raw))).toEqual([['Content-Type', 'text/plain']]);
  });
});
