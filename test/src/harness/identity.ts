// Talks to a control plane's gRPC port the way a sidecar would, but with whatever the test
// chooses to send: a CSR and token for the CA, or a node for discovery, with or without a
// client certificate. For tests of what the control plane refuses.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { createCsr, generateWorkloadKey, toPem } from '@weft/certs';
import {
  AggregatedDiscoveryService,
  CertificateAuthorityService,
  CertifyRequestSchema,
  type CertifyResponse,
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  TYPE_URL,
  toGrpcServiceDefinition,
} from '@weft/proto';
import type { ControlPlaneHandle } from './processes.ts';

export type CertifyOutcome = { ok: true; chain: Buffer[] } | { ok: false; code: string; details: string };

const CaClient = grpc.makeGenericClientConstructor(toGrpcServiceDefinition(CertificateAuthorityService), 'CertificateAuthorityService');
const AdsClient = grpc.makeGenericClientConstructor(toGrpcServiceDefinition(AggregatedDiscoveryService), 'AggregatedDiscoveryService');

function channelCredentials(cp: ControlPlaneHandle, identity?: { keyPem: string; chainPem: string }): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    readFileSync(cp.trustBundlePath),
    identity ? Buffer.from(identity.keyPem) : null,
    identity ? Buffer.from(identity.chainPem) : null,
    // The chain is verified against the bundle; tests do not care which name it carries.
    { checkServerIdentity: () => undefined },
  );
}

const OPTIONS = { 'grpc.ssl_target_name_override': 'control-plane.weft' };

/** Certify(csr, token or service-account token) as a raw call. */
export function certify(
  cp: ControlPlaneHandle,
  request: { csr: Uint8Array; token?: string; serviceAccountToken?: string },
  identity?: { keyPem: string; chainPem: string },
): Promise<CertifyOutcome> {
  const client = new CaClient(cp.xdsAddress, channelCredentials(cp, identity), OPTIONS) as unknown as grpc.Client & {
    certify(r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: CertifyResponse) => void): void;
  };
  return new Promise((resolve) => {
    client.certify(
      create(CertifyRequestSchema, {
        csr: request.csr,
        token: request.token ?? '',
        serviceAccountToken: request.serviceAccountToken ?? '',
        nodeId: 'test',
      }),
      { deadline: Date.now() + 10_000 },
      (error, response) => {
        client.close();
        if (error || !response) resolve({ ok: false, code: grpc.status[error?.code ?? 2] as string, details: error?.details ?? '' });
        else resolve({ ok: true, chain: response.certificateChain.map((c) => Buffer.from(c)) });
      },
    );
  });
}

/** Opens a discovery stream announcing `node`; resolves with the first response or the error. */
export function discover(
  cp: ControlPlaneHandle,
  node: { id: string; service: string; namespace?: string },
  identity?: { keyPem: string; chainPem: string },
): Promise<{ ok: true; typeUrl: string } | { ok: false; code: string; details: string }> {
  const client = new AdsClient(cp.xdsAddress, channelCredentials(cp, identity), OPTIONS) as unknown as grpc.Client & {
    streamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  };
  return new Promise((resolve) => {
    const stream = client.streamAggregatedResources();
    const done = (result: { ok: true; typeUrl: string } | { ok: false; code: string; details: string }) => {
      stream.cancel();
      client.close();
      resolve(result);
    };
    stream.on('data', (r: DiscoveryResponse) => done({ ok: true, typeUrl: r.typeUrl }));
    stream.on('error', (e: grpc.ServiceError) => done({ ok: false, code: grpc.status[e.code] as string, details: e.details }));
    stream.write(
      create(DiscoveryRequestSchema, {
        node: { id: node.id, service: node.service, namespace: node.namespace ?? '' },
        typeUrl: TYPE_URL.cluster,
      }),
    );
  });
}

export interface SidecarIdentity {
  readonly state: string;
  readonly certificate: { spiffeId: string; serial: string; notBefore: string; notAfter: string; issuer: string; chainPem: string } | null;
  readonly trustBundle: { subject: string; fingerprint: string }[];
}

/** What a sidecar's admin /config_dump says about its certificate and trust bundle. */
export async function sidecarIdentity(sidecar: { adminPort: number }): Promise<SidecarIdentity> {
  const dump = (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/config_dump`)).json()) as { identity: SidecarIdentity };
  return dump.identity;
}

/** A key and certificate for `service`, from the control plane's CA with a fresh token:
 * what a test needs to talk mTLS to a sidecar directly. */
export async function issueIdentity(
  cp: ControlPlaneHandle,
  service: string,
): Promise<{ keyPem: string; chainPem: string; spiffeId: string }> {
  const { createToken } = await import('./processes.ts');
  const key = generateWorkloadKey();
  const spiffeId = `spiffe://cluster.local/ns/default/sa/${service}`;
  const issued = await certify(cp, { csr: createCsr(key, spiffeId), token: await createToken(cp, service) });
  if (!issued.ok) throw new Error(`cannot issue a certificate for ${service}: ${issued.details}`);
  return {
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    chainPem: issued.chain.map((c) => toPem('CERTIFICATE', c)).join(''),
    spiffeId,
  };
}

/** Runs openssl (3.x) and returns its standard output; throws with its stderr on failure. */
export function openssl(args: readonly string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A self-signed RSA-2048 CA as an operator would make one: `<prefix>.pem` and `<prefix>.key`. */
export function opensslRoot(prefix: string, subject: string): { cert: string; key: string } {
  const cert = `${prefix}.pem`;
  const key = `${prefix}.key`;
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}
