// The four resource types on the discovery stream, their type URLs, and the order in which
// the control plane sends them (make before break: clusters and endpoints exist before a
// route or listener refers to them).
import { createRegistry } from '@bufbuild/protobuf';
import { ClusterSchema } from './gen/weft/xds/v1/cluster_pb.ts';
import { ClusterLoadAssignmentSchema } from './gen/weft/xds/v1/endpoint_pb.ts';
import { ListenerSchema } from './gen/weft/xds/v1/listener_pb.ts';
import { RouteConfigurationSchema } from './gen/weft/xds/v1/route_pb.ts';

export const TYPE_URL = {
  cluster: `type.googleapis.com/${ClusterSchema.typeName}`,
  endpoint: `type.googleapis.com/${ClusterLoadAssignmentSchema.typeName}`,
  listener: `type.googleapis.com/${ListenerSchema.typeName}`,
  route: `type.googleapis.com/${RouteConfigurationSchema.typeName}`,
} as const;

export type ResourceType = keyof typeof TYPE_URL;

/** Push order on the stream. */
export const RESOURCE_TYPES: readonly ResourceType[] = ['cluster', 'endpoint', 'listener', 'route'];

export function resourceTypeOf(typeUrl: string): ResourceType | undefined {
  for (const type of RESOURCE_TYPES) if (TYPE_URL[type] === typeUrl) return type;
  return undefined;
}

/** Resolves the Any payloads carried in DiscoveryResponse.resources. */
export const xdsRegistry = createRegistry(ClusterSchema, ClusterLoadAssignmentSchema, ListenerSchema, RouteConfigurationSchema);
