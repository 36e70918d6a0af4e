// Join tokens, as the control plane stores them: id, identity, expiry, revocation and a
// SHA-256 of the secret, never the secret. Kept in <data-dir>/tokens.json (mode 0600).
// The file is re-read when it changes on disk, so `weft token create --data-dir` works
// before the control plane starts and is seen by a running one.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { formatSpiffeId, newJoinToken, parseJoinToken, secretMatches, type WorkloadIdentity } from '@weft/certs';
import { readStateFile, writeStateFile } from '../store/persisted-file.ts';

export interface StoredToken {
  readonly id: string;
  readonly trustDomain: string;
  readonly namespace: string;
  readonly service: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly secretSha256: string;
  readonly revokedAt?: string;
}

/** What list() shows: everything but the hash. */
export type TokenInfo = Omit<StoredToken, 'secretSha256'> & { spiffeId: string; state: 'valid' | 'expired' | 'revoked' };

export type TokenCheck = { ok: true; identity: WorkloadIdentity; id: string } | { ok: false; error: string };

const FILE = 'tokens.json';
/** Expired or revoked tokens are kept this long for `weft token list`, then dropped. */
const KEEP_DEAD_MS = 24 * 3600 * 1000;

export class TokenStore {
  readonly #dataDir: string;
  readonly #now: () => number;
  #tokens = new Map<string, StoredToken>();
  #loadedMtimeMs = -1;

  constructor(dataDir: string, now: () => number = Date.now) {
    this.#dataDir = dataDir;
    this.#now = now;
    this.#refresh();
  }

  create(identity: WorkloadIdentity, ttlMs: number): { token: string; id: string; spiffeId: string; expiresAt: string } {
    this.#refresh();
    const created = newJoinToken(identity);
    const now = this.#now();
    const stored: StoredToken = {
      id: created.id,
      trustDomain: identity.trustDomain,
      namespace: identity.namespace,
      service: identity.serviceAccount,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
      secretSha256: created.secretSha256,
    };
    this.#tokens.set(stored.id, stored);
    this.#save();
    return { token: created.text, id: created.id, spiffeId: formatSpiffeId(identity), expiresAt: stored.expiresAt };
  }

  /** Marks a token revoked; false when there is no such token. */
  revoke(id: string): boolean {
    this.#refresh();
    const token = this.#tokens.get(id);
    if (!token) return false;
    if (!token.revokedAt) {
      this.#tokens.set(id, { ...token, revokedAt: new Date(this.#now()).toISOString() });
      this.#save();
    }
    return true;
  }

  list(): TokenInfo[] {
    this.#refresh();
    const now = this.#now();
    return [...this.#tokens.values()].map(({ secretSha256: _, ...token }) => ({
      ...token,
      spiffeId: formatSpiffeId({ trustDomain: token.trustDomain, namespace: token.namespace, serviceAccount: token.service }),
      state: token.revokedAt ? 'revoked' : Date.parse(token.expiresAt) <= now ? 'expired' : 'valid',
    }));
  }

  /** Checks a presented token: known id, matching secret (constant time), not expired, not revoked. */
  check(text: string): TokenCheck {
    const parsed = parseJoinToken(text);
    if (!parsed.ok) return { ok: false, error: `token: ${parsed.error}` };
    this.#refresh();
    const stored = this.#tokens.get(parsed.token.id);
    if (!stored || !secretMatches(parsed.token.secret, stored.secretSha256)) {
      return { ok: false, error: `token ${parsed.token.id}: unknown to this control plane or wrong secret` };
    }
    if (stored.revokedAt) return { ok: false, error: `token ${stored.id}: revoked at ${stored.revokedAt}` };
    if (Date.parse(stored.expiresAt) <= this.#now()) return { ok: false, error: `token ${stored.id}: expired at ${stored.expiresAt}` };
    return {
      ok: true,
      id: stored.id,
      identity: { trustDomain: stored.trustDomain, namespace: stored.namespace, serviceAccount: stored.service },
    };
  }

  #refresh(): void {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(join(this.#dataDir, FILE)).mtimeMs;
    } catch {
      return;
    }
    if (mtimeMs === this.#loadedMtimeMs) return;
    const persisted = readStateFile<{ tokens: StoredToken[] }>(this.#dataDir, FILE);
    this.#tokens = new Map((persisted?.tokens ?? []).map((t) => [t.id, t]));
    this.#loadedMtimeMs = mtimeMs;
  }

  #save(): void {
    const cutoff = this.#now() - KEEP_DEAD_MS;
    for (const [id, token] of this.#tokens) {
      const expiresAt = Date.parse(token.expiresAt);
      const deadAt = token.revokedAt ? Math.min(Date.parse(token.revokedAt), expiresAt) : expiresAt;
      if (deadAt < cutoff) this.#tokens.delete(id);
    }
    writeStateFile(this.#dataDir, FILE, { tokens: [...this.#tokens.values()] });
    this.#loadedMtimeMs = statSync(join(this.#dataDir, FILE)).mtimeMs;
  }
}
