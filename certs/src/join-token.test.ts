import { describe, expect, it } from 'vitest';
import { newJoinToken, parseJoinToken, secretMatches } from './join-token.ts';

describe('join tokens', () => {
  const identity = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'orders' };

  it('carry their identity and verify against the stored hash only', () => {
    const created = newJoinToken(identity);
    const parsed = parseJoinToken(created.text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.token.identity).toEqual(identity);
    expect(parsed.token.id).toBe(created.id);
    expect(secretMatches(parsed.token.secret, created.secretSha256)).toBe(true);
    const last = parsed.token.secret.at(-1) === 'A' ? 'B' : 'A';
    expect(secretMatches(`${parsed.token.secret.slice(0, -1)}${last}`, created.secretSha256)).toBe(false);
    expect(created.text).not.toContain(created.secretSha256);
  });

  it('rejects malformed text with a reason', () => {
    expect(parseJoinToken('hello')).toEqual({ ok: false, error: 'not a Weft join token (expected weft1.<claims>.<secret>)' });
    expect(parseJoinToken('weft1.e30.abc')).toEqual({ ok: false, error: 'join token claims are incomplete' });
  });
});
