import { create } from '@bufbuild/protobuf';
import { RetryOn, RouteConfigurationSchema } from '@weft/proto';
import { describe, expect, it } from 'vitest';
import { RETRY_ON } from '../../resilience/retry.ts';
import { Problems } from './problems.ts';
import { toRouteTable } from './route.ts';

function convert(action: Record<string, unknown>) {
  const problems = new Problems();
  const table = toRouteTable(
    create(RouteConfigurationSchema, {
      name: 'outbound',
      virtualHosts: [
        {
          name: 'orders',
          domains: ['orders'],
          routes: [{ name: 'r0', action: { clusters: [{ name: 'orders.default', weight: 1 }], ...action } }],
        },
      ],
    }),
    problems,
  );
  return { route: table?.match('orders', '/', 'GET', () => ({})), problems: problems.summary(50) };
}

describe('toRouteTable retry policies', () => {
  it('reads an absent policy as no retries', () => {
    expect(convert({}).route?.retry).toBeUndefined();
  });

  it('converts the policy, conditions as flags', () => {
    const { route, problems } = convert({
      timeoutMs: 2000,
      retryPolicy: {
        maxRetries: 2,
        perTryTimeoutMs: 500,
        retryOn: [RetryOn.GATEWAY_ERROR, RetryOn.GRPC_UNAVAILABLE],
        retriableStatusCodes: [409],
        backoffBaseMs: 25,
        backoffMaxMs: 250,
        maxRequestBytes: 65536,
      },
    });
    expect(problems).toBe('');
    expect(route?.retry).toEqual({
      maxRetries: 2,
      perTryTimeoutMs: 500,
      retryOn: RETRY_ON['gateway-error'] | RETRY_ON['grpc-unavailable'],
      retriableStatusCodes: [409],
      backoff: { baseMs: 25, maxMs: 250 },
      retryNonIdempotent: false,
      maxRequestBytes: 65536,
    });
  });

  it('names every bad field of a policy', () => {
    const { problems } = convert({
      timeoutMs: 1000,
      retryPolicy: { maxRetries: 11, perTryTimeoutMs: 2000, retryOn: [99], retriableStatusCodes: [600], backoffBaseMs: 0, backoffMaxMs: 0 },
    });
    const at = 'RouteConfiguration "outbound": virtual_hosts[0].routes[0].action.retry_policy';
    expect(problems).toContain(`${at}.max_retries: at most 10`);
    expect(problems).toContain(`${at}.retry_on[0]: unknown condition 99`);
    expect(problems).toContain(`${at}.retriable_status_codes[0]: 600 is not an HTTP status`);
    expect(problems).toContain(`${at}.backoff_base_ms: at least 1`);
    expect(problems).toContain(`${at}.per_try_timeout_ms: must not exceed the route timeout (1000 ms)`);
  });
});
