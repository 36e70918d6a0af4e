import { describe, expect, it } from 'vitest';
import { isLoopback } from './admin-server.ts';

describe('admin loopback check (for /shutdown and /config_dump)', () => {
  it('accepts IPv4 loopback, IPv6 loopback and IPv4-mapped loopback peers', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address), address).toBe(true);
  });

  it('refuses every other peer, including look-alikes', () => {
    for (const address of ['10.0.0.7', '::ffff:10.0.0.7', 'fe80::1', '1127.0.0.1', '::ffff:1127.0.0.1', '', undefined]) {
      expect(isLoopback(address), String(address)).toBe(false);
    }
  });
});
