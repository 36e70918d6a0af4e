import { describe, expect, it } from 'vitest';
import { parseProxyOptions } from './options.ts';

describe('sidecar options', () => {
  const base = { service: 'orders', controlPlane: 'cp:15010', trustBundle: 'bundle.pem' };
  it('take a join token or a token file, exactly one', () => {
    expect(parseProxyOptions({ ...base, token: 'weft1.a.b' }).ok).toBe(true);
    expect(parseProxyOptions({ ...base, tokenFile: '/t', trustDomain: 'example.org' }).ok).toBe(true);
    expect(parseProxyOptions(base)).toEqual({
      ok: false,
      errors: [
        '--token: required: a join token from `weft token create` (or set WEFT_TOKEN), or --token-file with a Kubernetes service-account token',
      ],
    });
    expect(parseProxyOptions({ ...base, token: 'weft1.a.b', tokenFile: '/t' })).toEqual({
      ok: false,
      errors: ['--token-file: give --token (WEFT_TOKEN) or --token-file, not both'],
    });
    expect(parseProxyOptions({ ...base, tokenFile: '/t', trustDomain: 'Example.ORG' })).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(/^--trust-domain: must be lower-case/)],
    });
  });
});
