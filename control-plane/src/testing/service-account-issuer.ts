// For tests: a stand-in for a Kubernetes service-account issuer. It makes signing keys, signs
// projected-style tokens (kubernetes.io claims, audience, expiry) and serves its public keys
// as a JWKS from a real HTTP or HTTPS server on 127.0.0.1, port 0, counting the fetches.
// Never used by the control plane itself.
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface IssuerKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export async function createIssuerKey(kid: string, alg: IssuerKey['alg'] = 'RS256'): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface TokenSpec {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly pod?: string;
  readonly podUid?: string;
  /** Default: the issuer's audience list, ["weft"]. */
  readonly audience?: string | string[];
  /** Default: the issuer's own name. */
  readonly issuer?: string;
  /** Seconds from now; negative for a token that has expired. Default 3600. */
  readonly expiresInS?: number;
  /** Seconds from now the token becomes valid. Default: 0 (iat = nbf = now). */
  readonly notBeforeInS?: number;
  /** Claims set last, over the computed ones (undefined removes one). */
  readonly claims?: Record<string, unknown>;
}

export interface IssuerOptions {
  /** The `iss` of its tokens. */
  readonly issuer: string;
  /** Serve over HTTPS with this certificate and key (PEM); plain HTTP without. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Answer 401 unless the request carries this bearer token. */
  readonly bearerToken?: string;
}

export class ServiceAccountIssuer {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** JWKS requests answered (any status). */
  fetches = 0;
  readonly #server: Server;
  #served: IssuerKey[] = [];
  #status = 200;
  #bearerToken: string | undefined;

  private constructor(issuer: string, server: Server, jwksUrl: string, bearerToken: string | undefined) {
    this.issuer = issuer;
    this.#server = server;
    this.jwksUrl = jwksUrl;
    this.#bearerToken = bearerToken;
  }

  static async start(options: IssuerOptions): Promise<ServiceAccountIssuer> {
    let issuer: ServiceAccountIssuer | undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      if (issuer) issuer.#handle(req, res);
      else res.writeHead(503).end();
    };
    const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    issuer = new ServiceAccountIssuer(
      options.issuer,
      server,
      `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/openid/v1/jwks`,
      options.bearerToken,
    );
    return issuer;
  }

  /** The keys the JWKS lists from now on (signing may still use any key). */
  serve(keys: readonly IssuerKey[]): void {
    this.#served = [...keys];
  }

  /** Answer the JWKS with this status (500: the API server is down). */
  failWith(status: number): void {
    this.#status = status;
  }

  set bearerToken(token: string | undefined) {
    this.#bearerToken = token;
  }

  async sign(key: IssuerKey, spec: TokenSpec): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const pod = spec.pod ?? `${spec.serviceAccount}-7d9f8-x2x9q`;
    const claims: Record<string, unknown> = {
      iss: spec.issuer ?? this.issuer,
      sub: `system:serviceaccount:${spec.namespace}:${spec.serviceAccount}`,
      aud: spec.audience ?? ['weft'],
      iat: now,
      nbf: now + (spec.notBeforeInS ?? 0),
      exp: now + (spec.expiresInS ?? 3600),
      jti: crypto.randomUUID(),
      'kubernetes.io': {
        namespace: spec.namespace,
        node: { name: 'node-1', uid: '5a8c3f7e-0000-4000-8000-000000000001' },
        pod: { name: pod, uid: spec.podUid ?? crypto.randomUUID() },
        serviceaccount: { name: spec.serviceAccount, uid: '0f6f5d5e-0000-4000-8000-000000000002' },
      },
      ...spec.claims,
    };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.fetches += 1;
    const [status, body] = this.#answer(req);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #answer(req: IncomingMessage): [number, unknown] {
    if (req.url !== '/openid/v1/jwks') return [404, { message: 'not found' }];
    if (this.#bearerToken !== undefined && req.headers.authorization !== `Bearer ${this.#bearerToken}`) {
      return [401, { message: 'Unauthorized' }];
    }
    if (this.#status !== 200) return [this.#status, { message: 'unavailable' }];
    return [200, { keys: this.#served.map((k) => k.jwk) }];
  }

  close(): Promise<void> {
    return new Promise((done) => {
      this.#server.close(() => done());
      this.#server.closeAllConnections();
    });
  }
}
