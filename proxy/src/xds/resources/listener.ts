// Listener (proto) → ListenerSpec. This sidecar serves one outbound HTTP listener and one
// inbound listener on ports its flags give; anything else is refused with a reason.
import { type Listener, Protocol, TrafficDirection } from '@weft/proto';
import type { Problems } from './problems.ts';

export interface ListenerSpec {
  readonly name: string;
  readonly direction: 'inbound' | 'outbound';
  readonly routeConfigName: string;
}

export function toListenerSpec(listener: Listener, problems: Problems): ListenerSpec {
  const where = `Listener "${listener.name}"`;
  if (listener.protocol === Protocol.TCP) {
    problems.add(where, 'protocol', 'opaque TCP listeners are not supported by this sidecar version');
  }
  const direction = listener.direction === TrafficDirection.INBOUND ? 'inbound' : 'outbound';
  if (listener.direction === TrafficDirection.UNSPECIFIED) problems.add(where, 'direction', 'required');
  if (direction === 'outbound' && !listener.routeConfigName) problems.add(where, 'route_config_name', 'required for an HTTP listener');
  return { name: listener.name, direction, routeConfigName: listener.routeConfigName };
}
