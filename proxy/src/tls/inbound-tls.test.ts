import { once } from 'node:events';
import { request } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { connect } from 'node:tls';
import { CertificateAuthority, Credentials, createRootCa, generateWorkloadKey, publicKeyInfo, TrustBundle } from '@weft/certs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Server } from '../http1/http1-server.ts';
import { ALPN_PROTOCOLS, mtlsConnector } from './client-tls.ts';
import { createInboundTlsListener, type MtlsMode } from './inbound-tls.ts';
import { peerIdentityOf } from './peer-identity.ts';

const log = pino({ level: 'silent' });

function meshCa() {
  const root = createRootCa({ trustDomain: 'cluster.local', validityMs: 86_400_000 });
  const loaded = CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem, trustDomain: 'cluster.local' });
  const bundle = TrustBundle.fromPem(root.certPem, 'test');
  if (!loaded.ok || !bundle.ok) throw new Error('test CA');
  const credentialsFor = (service: string, trust: TrustBundle = bundle.bundle) => {
    const credentials = new Credentials(trust);
    const key = generateWorkloadKey();
    const issued = loaded.ca.issue({
      publicKey: publicKeyInfo(key),
      spiffeId: `spiffe://cluster.local/ns/default/sa/${service}`,
      ttlMs: 60_000,
    });
    credentials.setCertificate(key, issued.chain);
    return credentials;
  };
  return { credentialsFor, bundle: bundle.bundle };
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function inbound(mode: MtlsMode) {
  const mesh = meshCa();
  const seen: (string | undefined)[] = [];
  const http = new Http1Server({
    log,
    onRequest: (req, res) => {
      seen.push(peerIdentityOf(req.connection));
      res.head(200, ['content-length', '2']);
      res.finish('ok');
    },
  });
  const server: Server = createInboundTlsListener({
    credentials: mesh.credentialsFor('orders'),
    mode: () => mode,
    accept: (socket, first) => http.accept(socket, first),
    log,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    http.closeAllConnections();
    server.close();
  });
  return { mesh, seen, port: (server.address() as AddressInfo).port };
}

function plainGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One request over a connection from `mtlsConnector`, as the outbound pool makes them. */
function mtlsGet(port: number, credentials: Credentials, expected: string): Promise<string> {
  return new Promise((resolve, reject) => {
    mtlsConnector(
      credentials,
      expected,
      `127.0.0.1:${port}`,
      2000,
    )((error, socket) => {
      if (error || !socket) return reject(error);
      const req = request({ path: '/', createConnection: () => socket }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      });
      req.on('error', reject);
      req.end();
    });
  });
}

describe('inbound mTLS', () => {
  it('accepts a mesh client, records its SPIFFE ID, and negotiates TLS 1.3 with ALPN', async () => {
    const { mesh, seen, port } = await inbound('strict');
    const web = mesh.credentialsFor('web');
    expect(await mtlsGet(port, web, 'spiffe://cluster.local/ns/default/sa/orders')).toBe('200 ok');
    expect(seen).toEqual(['spiffe://cluster.local/ns/default/sa/web']);
    const socket = connect({
      host: '127.0.0.1',
      port,
      secureContext: web.secureContext,
      ALPNProtocols: ALPN_PROTOCOLS,
      checkServerIdentity: () => undefined,
    });
    await once(socket, 'secureConnect');
    expect([socket.getProtocol(), socket.alpnProtocol]).toEqual(['TLSv1.3', 'http/1.1']);
    socket.destroy();
  });

  it('refuses a server whose SPIFFE ID is not the expected one', async () => {
    const { mesh, port } = await inbound('strict');
    await expect(mtlsGet(port, mesh.credentialsFor('web'), 'spiffe://cluster.local/ns/default/sa/payments')).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      message: 'server is spiffe://cluster.local/ns/default/sa/orders, expected spiffe://cluster.local/ns/default/sa/payments',
    });
  });

  it('refuses plaintext in strict mode with a 403 that says why', async () => {
    const { seen, port } = await inbound('strict');
    const reply = await plainGet(port);
    expect(reply).toEqual({ status: 403, body: 'weft: this port accepts mutual TLS only (mtls mode is strict)\n' });
    expect(seen).toEqual([]);
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const { mesh, seen, port } = await inbound('strict');
    // The client trusts the mesh's root (so it accepts the server), but its own certificate
    // comes from another CA: the server must refuse it.
    const other = meshCa();
    const both = TrustBundle.fromPem(mesh.bundle.pem + other.bundle.pem, 'both');
    if (!both.ok) throw new Error(both.error);
    const foreign = other.credentialsFor('web', both.bundle);
    await expect(mtlsGet(port, foreign, 'spiffe://cluster.local/ns/default/sa/orders')).rejects.toThrow(
      /certificate|socket hang up|ECONNRESET/,
    );
    expect(seen).toEqual([]);
  });

  it('accepts plaintext and mTLS on the same port in permissive mode', async () => {
    const { mesh, seen, port } = await inbound('permissive');
    expect(await plainGet(port)).toEqual({ status: 200, body: 'ok' });
    expect(await mtlsGet(port, mesh.credentialsFor('web'), 'spiffe://cluster.local/ns/default/sa/orders')).toBe('200 ok');
    expect(seen).toEqual([undefined, 'spiffe://cluster.local/ns/default/sa/web']);
  });
});
