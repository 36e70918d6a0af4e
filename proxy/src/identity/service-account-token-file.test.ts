import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsecuredJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { readServiceAccountTokenFile } from './service-account-token-file.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function file(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-token-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'token'), content);
  return join(dir, 'token');
}

// Signature and verification are the control plane's business; the sidecar only reads claims.
const token = (claims: Record<string, unknown>) => new UnsecuredJWT(claims).setExpirationTime(1_900_000_000).encode();

describe('the service-account token file', () => {
  it('is read afresh each time, with the namespace and service account it claims', () => {
    const path = file(`${token({ 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'orders' } } })}\n`);
    expect(readServiceAccountTokenFile(path)).toEqual({
      ok: true,
      value: { token: expect.stringMatching(/^ey[^\n]+\.$/), namespace: 'shop', serviceAccount: 'orders', expiresAt: 1_900_000_000_000 },
    });
    writeFileSync(path, token({ 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'web' } } }));
    expect(readServiceAccountTokenFile(path)).toMatchObject({ ok: true, value: { serviceAccount: 'web' } });
  });

  it('names the flag and the file when it cannot be used', () => {
    const missing = join(tmpdir(), 'weft-no-such-dir', 'token');
    expect(readServiceAccountTokenFile(missing)).toEqual({ ok: false, error: `--token-file ${missing}: ENOENT` });
    const empty = file('\n');
    expect(readServiceAccountTokenFile(empty)).toEqual({ ok: false, error: `--token-file ${empty}: empty` });
    const joinToken = file('weft1.abc.def');
    expect(readServiceAccountTokenFile(joinToken)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^--token-file .+: not a JWT \(/),
    });
    const other = file(token({ sub: 'someone' }));
    expect(readServiceAccountTokenFile(other)).toEqual({
      ok: false,
      error: `--token-file ${other}: not a Kubernetes service-account token (no kubernetes.io namespace and service account)`,
    });
  });
});
