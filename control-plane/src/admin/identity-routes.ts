// The admin API's identity endpoints: join tokens (`weft token create|list|revoke`) and the
// CA's public facts and trust bundle (`weft ca bundle`). Token secrets appear only in the
// response to the request that created them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { CaSource } from '../identity/ca-source.ts';
import type { TokenStore } from '../identity/token-store.ts';
import { parseDurationMs } from '../model/duration.ts';

export interface IdentityAdmin {
  readonly tokens: TokenStore;
  readonly ca: CaSource;
}

export const DEFAULT_TOKEN_TTL_MS = 3_600_000;
const MAX_TOKEN_TTL_MS = 366 * 86_400_000;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const tokenRequest = z.strictObject({
  service: z.string().max(63).regex(DNS_LABEL, 'must be a DNS label'),
  namespace: z.string().max(63).regex(DNS_LABEL, 'must be a DNS label').default('default'),
  ttl: z.string().optional(),
});

/** Validates a token request; errors name the field. */
export function parseTokenRequest(
  body: unknown,
): { ok: true; service: string; namespace: string; ttlMs: number } | { ok: false; errors: string[] } {
  const parsed = tokenRequest.safeParse(body);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`) };
  const ttlMs = parsed.data.ttl === undefined ? DEFAULT_TOKEN_TTL_MS : parseDurationMs(parsed.data.ttl);
  if (ttlMs === undefined || ttlMs < 1000 || ttlMs > MAX_TOKEN_TTL_MS) {
    return { ok: false, errors: [`ttl: "${parsed.data.ttl}" must be a duration from 1s to 366d, like 30m, 1h or 7d`] };
  }
  return { ok: true, service: parsed.data.service, namespace: parsed.data.namespace, ttlMs };
}

type Send = (res: ServerResponse, status: number, body: unknown) => void;

/** Handles the request when it is an identity endpoint; returns false otherwise. */
export async function handleIdentityRoute(
  route: string,
  req: IncomingMessage,
  res: ServerResponse,
  admin: IdentityAdmin,
  readBody: (req: IncomingMessage) => Promise<string>,
  send: Send,
): Promise<boolean> {
  if (route === 'POST /api/tokens') {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      send(res, 400, { error: 'body must be JSON: {"service": "...", "namespace": "...", "ttl": "1h"}' });
      return true;
    }
    const request = parseTokenRequest(body);
    if (!request.ok) {
      send(res, 400, { error: 'invalid token request', errors: request.errors });
      return true;
    }
    const created = admin.tokens.create(
      { trustDomain: admin.ca.trustDomain, namespace: request.namespace, serviceAccount: request.service },
      request.ttlMs,
    );
    send(res, 200, created);
    return true;
  }
  if (route === 'GET /api/tokens') {
    send(res, 200, { tokens: admin.tokens.list() });
    return true;
  }
  const revoke = /^DELETE \/api\/tokens\/([0-9a-f]{16})$/.exec(route);
  if (revoke) {
    const id = revoke[1] as string;
    if (admin.tokens.revoke(id)) send(res, 200, { revoked: id });
    else send(res, 404, { error: `no token ${id}` });
    return true;
  }
  if (route === 'GET /api/ca') {
    const { ca, bundle, source } = admin.ca.state;
    send(res, 200, {
      trustDomain: admin.ca.trustDomain,
      source,
      signer: {
        subject: (ca.certificate.subject ?? '').replace(/\n/g, ', '),
        notAfter: ca.certificate.validTo,
        fingerprint: ca.certificate.fingerprint256,
      },
      roots: bundle.describe(),
      bundlePem: bundle.pem,
    });
    return true;
  }
  if (route === 'GET /api/ca/bundle') {
    const pem = admin.ca.state.bundle.pem;
    res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': Buffer.byteLength(pem) });
    res.end(pem);
    return true;
  }
  return false;
}
