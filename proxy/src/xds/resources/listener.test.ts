import { create } from '@bufbuild/protobuf';
import { ListenerSchema, Protocol, TrafficDirection } from '@weft/proto';
import { describe, expect, it } from 'vitest';
import { toListenerSpec } from './listener.ts';
import { Problems } from './problems.ts';

function convert(init: Parameters<typeof create<typeof ListenerSchema>>[1]) {
  const problems = new Problems();
  const spec = toListenerSpec(create(ListenerSchema, init), problems);
  return { spec, problems: problems.summary(50) };
}

describe('toListenerSpec', () => {
  it('reads an opaque TCP listener: its cluster and local port', () => {
    const { spec, problems } = convert({
      name: 'tcp:db.default',
      direction: TrafficDirection.OUTBOUND,
      protocol: Protocol.TCP,
      cluster: 'db.default',
      port: 15432,
    });
    expect(problems).toBe('');
    expect(spec.tcp).toEqual({ cluster: 'db.default', port: 15432 });
  });

  it('names the fields a TCP listener lacks', () => {
    const { problems } = convert({ name: 'tcp:db.default', direction: TrafficDirection.OUTBOUND, protocol: Protocol.TCP });
    expect(problems).toBe(
      'Listener "tcp:db.default": cluster: required for a TCP listener; Listener "tcp:db.default": port: 0 is not a port (1-65535)',
    );
  });

  it('keeps HTTP listeners as they were', () => {
    const { spec, problems } = convert({ name: 'outbound', direction: TrafficDirection.OUTBOUND, routeConfigName: 'outbound' });
    expect(problems).toBe('');
    expect(spec.tcp).toBeUndefined();
    expect(convert({ name: 'outbound', direction: TrafficDirection.OUTBOUND }).problems).toContain('route_config_name: required');
  });
});
