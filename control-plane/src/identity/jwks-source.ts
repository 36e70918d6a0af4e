// The Kubernetes service-account issuer's public keys (a JWKS), from its URL or from a file,
// cached: which key a token names, refetched when a token names one we do not know, at a
// bounded rate. What a token must say is service-account-token.ts's job, not this file's.
//
// A failed refresh keeps the last good keys (the API server being briefly unreachable must
// not stop issuance), logs a warning and waits out the same interval before trying again.
import { readFileSync, statSync } from 'node:fs';
import { type CryptoKey, createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';

/** What jose's jwtVerify asks for a token's key with. */
export type KeyResolver = ReturnType<typeof createLocalJWKSet>;

/** No keys at all yet (the first fetch failed): the caller should retry, not give up. */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

export interface KeySet {
  /** The key for a token's header; throws jose's JWKSNoMatchingKey for an unknown key. */
  readonly resolve: (header: JWSHeaderParameters) => Promise<CryptoKey>;
  /** Where the keys come from, as the operator configured it ("https://… (--k8s-jwks-url)"). */
  readonly source: string;
  /** The key ids now known, for logs and status. */
  keyIds(): string[];
  close(): void;
}

export interface RemoteJwksOptions {
  readonly url: URL;
  /** PEM roots that sign the JWKS server's certificate (the cluster CA in a pod). */
  readonly caPem?: string | undefined;
  /** A bearer token for the request, re-read on every fetch (the kubelet rotates it). */
  readonly bearerTokenFile?: string | undefined;
  /** Refetch keys this old even when every token names a known one. */
  readonly maxAgeMs?: number;
  /** At most one fetch per this interval, whatever tokens arrive. */
  readonly minRefreshIntervalMs?: number;
  readonly timeoutMs?: number;
  readonly log: Logger;
  readonly now?: () => number;
}

const MAX_JWKS_BYTES = 1024 * 1024;
export const DEFAULT_JWKS_MAX_AGE_MS = 10 * 60_000;
export const DEFAULT_JWKS_MIN_REFRESH_MS = 30_000;

/** Keys served over HTTP(S): the API server's /openid/v1/jwks, or the issuer's jwks_uri. */
export class RemoteJwks implements KeySet {
  readonly source: string;
  readonly #options: RemoteJwksOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #agent: Agent;
  #local: KeyResolver | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;
  #lastError: string | undefined;
  #kids: string[] = [];

  constructor(options: RemoteJwksOptions) {
    this.#options = options;
    this.source = `${options.url.href} (--k8s-jwks-url)`;
    this.#log = options.log.child({ component: 'jwks', jwks: options.url.href });
    this.#now = options.now ?? Date.now;
    const timeout = options.timeoutMs ?? 5000;
    this.#agent = new Agent({
      connect: { timeout, ...(options.caPem ? { ca: options.caPem } : {}) },
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  readonly resolve = async (header: JWSHeaderParameters): Promise<CryptoKey> => {
    const maxAge = this.#options.maxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS;
    if (this.#local === undefined || this.#now() - this.#loadedAt > maxAge) await this.#refreshIfAllowed();
    const local = this.#local;
    if (local === undefined) {
      throw new KeysUnavailableError(`the cluster's service-account keys could not be fetched from ${this.source}: ${this.#lastError}`);
    }
    try {
      return await local(header);
    } catch (error) {
      // A key we have not seen: the issuer may have rotated. Ask again, at the bounded rate.
      if (!(error instanceof errors.JWKSNoMatchingKey) || !(await this.#refreshIfAllowed())) throw error;
      return (this.#local as KeyResolver)(header);
    }
  };

  keyIds(): string[] {
    return this.#kids;
  }

  /** Fetches now unless a fetch ran within the minimum interval; true if one ran and succeeded. */
  async #refreshIfAllowed(): Promise<boolean> {
    if (this.#pending) {
      await this.#pending;
      return this.#lastError === undefined;
    }
    if (this.#now() - this.#attemptedAt < (this.#options.minRefreshIntervalMs ?? DEFAULT_JWKS_MIN_REFRESH_MS)) return false;
    this.#attemptedAt = this.#now();
    this.#pending = this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    await this.#pending;
    return this.#lastError === undefined;
  }

  /** Warms the cache at startup, so a wrong URL shows in the log before the first pod asks. */
  warm(): Promise<boolean> {
    return this.#refreshIfAllowed();
  }

  async #fetch(): Promise<void> {
    try {
      const headers: Record<string, string> = { accept: 'application/json, application/jwk-set+json' };
      if (this.#options.bearerTokenFile) {
        headers['authorization'] = `Bearer ${readFileSync(this.#options.bearerTokenFile, 'utf8').trim()}`;
      }
      const response = await request(this.#options.url, { method: 'GET', headers, dispatcher: this.#agent });
      const body = await readLimited(response.body, MAX_JWKS_BYTES);
      if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}${body ? `: ${body.slice(0, 200)}` : ''}`);
      const jwks = parseJwks(body);
      this.#local = createLocalJWKSet(jwks);
      this.#loadedAt = this.#now();
      const kids = keyIdsOf(jwks);
      if (this.#lastError !== undefined || kids.join() !== this.#kids.join()) {
        this.#log.info({ keyIds: kids }, "loaded the cluster's service-account keys");
      }
      this.#kids = kids;
      this.#lastError = undefined;
    } catch (error) {
      this.#lastError = describeError(error, this.#options.bearerTokenFile);
      this.#log.warn(
        { error: this.#lastError, keepingKeyIds: this.#kids },
        "cannot fetch the cluster's service-account keys; keeping the last ones",
      );
    }
  }

  close(): void {
    void this.#agent.close();
  }
}

/** Keys in a file, for clusters whose issuer serves no discovery (or to pin keys). Re-read
 * whenever the file changes, so rotating keys means rewriting the file. */
export class FileJwks implements KeySet {
  readonly source: string;
  readonly #path: string;
  readonly #log: Logger;
  #local: KeyResolver;
  #kids: string[];
  #stamp: string;

  private constructor(path: string, log: Logger, loaded: { local: KeyResolver; kids: string[]; stamp: string }) {
    this.#path = path;
    this.source = `${path} (--k8s-jwks-file)`;
    this.#log = log.child({ component: 'jwks', jwks: path });
    this.#local = loaded.local;
    this.#kids = loaded.kids;
    this.#stamp = loaded.stamp;
  }

  /** Loads the file once; a file that cannot be read or parsed is a startup error. */
  static open(path: string, log: Logger): { ok: true; keys: FileJwks } | { ok: false; error: string } {
    const loaded = FileJwks.#load(path);
    if (!loaded.ok) return { ok: false, error: `--k8s-jwks-file ${path}: ${loaded.error}` };
    const keys = new FileJwks(path, log, loaded);
    keys.#log.info({ keyIds: loaded.kids }, "loaded the cluster's service-account keys");
    return { ok: true, keys };
  }

  static #load(path: string): { ok: true; local: KeyResolver; kids: string[]; stamp: string } | { ok: false; error: string } {
    try {
      const stamp = stampOf(path);
      const jwks = parseJwks(readFileSync(path, 'utf8'));
      return { ok: true, local: createLocalJWKSet(jwks), kids: keyIdsOf(jwks), stamp };
    } catch (error) {
      return { ok: false, error: describeError(error) };
    }
  }

  readonly resolve = async (header: JWSHeaderParameters): Promise<CryptoKey> => {
    let stamp: string | undefined;
    try {
      stamp = stampOf(this.#path);
    } catch {
      // Gone for a moment (an editor's rename): keep the keys we have.
    }
    if (stamp !== undefined && stamp !== this.#stamp) {
      const loaded = FileJwks.#load(this.#path);
      this.#stamp = stamp;
      if (loaded.ok) {
        this.#local = loaded.local;
        this.#kids = loaded.kids;
        this.#log.info({ keyIds: loaded.kids }, "reloaded the cluster's service-account keys");
      } else {
        this.#log.error({ error: loaded.error, keepingKeyIds: this.#kids }, 'service-account key file refused; keeping the last keys');
      }
    }
    return this.#local(header);
  };

  keyIds(): string[] {
    return this.#kids;
  }

  close(): void {}
}

function stampOf(path: string): string {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

function parseJwks(text: string): JSONWebKeySet {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`);
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('not a JWKS: no "keys" array');
  // createLocalJWKSet checks each key when a token needs it; a set with no key is useless now.
  if (keys.length === 0) throw new Error('the JWKS has no keys');
  return json as JSONWebKeySet;
}

function keyIdsOf(jwks: JSONWebKeySet): string[] {
  return jwks.keys.map((k) => k.kid ?? '(no kid)');
}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new Error(`the JWKS is over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeError(error: unknown, tokenFile?: string): string {
  const e = error as NodeJS.ErrnoException & { cause?: { code?: string; message?: string } };
  if (tokenFile && e.code === 'ENOENT' && e.path === tokenFile) return `--k8s-jwks-token-file ${tokenFile}: ENOENT`;
  const cause = e.cause?.code ?? e.cause?.message;
  return `${e.code && !e.message.includes(e.code) ? `${e.code}: ` : ''}${e.message}${cause ? ` (${cause})` : ''}`;
}
