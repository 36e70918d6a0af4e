import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenStore } from './token-store.ts';

const identity = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'orders' };
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-tokens-'));
  dirs.push(dir);
  return dir;
}

describe('TokenStore', () => {
  it('stores a hash, never the secret, in a 0600 file', () => {
    const dir = dataDir();
    const created = new TokenStore(dir).create(identity, 60_000);
    const file = readFileSync(join(dir, 'tokens.json'), 'utf8');
    expect(file).not.toContain(created.token.split('.')[2]);
    expect(file).toContain(created.id);
    expect(statSync(join(dir, 'tokens.json')).mode & 0o777).toBe(0o600);
  });

  it('checks tokens, and sees tokens another process wrote to the data directory', () => {
    const dir = dataDir();
    const running = new TokenStore(dir);
    const offline = new TokenStore(dir).create(identity, 60_000); // `weft token create --data-dir`
    expect(running.check(offline.token)).toEqual({ ok: true, id: offline.id, identity });
    expect(running.revoke(offline.id)).toBe(true);
    expect(new TokenStore(dir).check(offline.token)).toMatchObject({ ok: false, error: expect.stringContaining('revoked at') });
  });

  it('refuses expired tokens and forgets dead ones after a day', () => {
    const dir = dataDir();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const store = new TokenStore(dir, () => now);
    const created = store.create(identity, 1000);
    now += 2000;
    expect(store.check(created.token)).toMatchObject({ ok: false, error: `token ${created.id}: expired at 2026-01-01T00:00:01.000Z` });
    expect(store.list().map((t) => t.state)).toEqual(['expired']);
    now += 25 * 3600_000;
    store.create(identity, 1000);
    expect(store.list()).toHaveLength(1);
  });
});
