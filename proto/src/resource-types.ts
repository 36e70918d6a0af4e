// The resource types on the discovery stream, their type URLs, and the order in which
// the control plane sends them (make before break: the trust bundle before anything that
// names identities it anchors; clusters and endpoints before a route or listener refers
// to them).
import { createRegistry } from '@bufbuild/protobuf';
import { TrustBundleSchema } from './gen/weft/identity/v1/trust_bundle_pb.ts';
import { ClusterSchema } from './gen/weft/xds/v1/cluster_pb.ts';
import { ClusterLoadAssignmentSchema } from './gen/weft/xds/v1/endpoint_pb.ts';
import { ListenerSchema } from './gen/weft/xds/v1/listener_pb.ts';
import { RouteConfigurationSchema } from './gen/weft/xds/v1/route_pb.ts';

export const TYPE_URL = {
  trustBundle: `type.googleapis.com/${TrustBundleSchema.typeName}`,
  cluster: `type.googleapis.com/${ClusterSchema.typeName}`,
  endpoint: `type.googleapis.com/${ClusterLoadAssignmentSchema.typeName}`,
  listener: `type.googleapis.com/${ListenerSchema.typeName}`,
  route: `type.googleapis.com/${RouteConfigurationSchema.typeName}`,
} as const;

export type ResourceType = keyof typeof TYPE_URL;

/** Push order on the stream. */
export const RESOURCE_TYPES: readonly ResourceType[] = ['trustBundle', 'cluster', 'endpoint', 'listener', 'route'];

export function resourceTypeOf(typeUrl: string): ResourceType | undefined {
  for (const type of RESOURCE_TYPES) if (TYPE_URL[type] === typeUrl) return type;
  return undefined;
}

/** Resolves the Any payloads carried in DiscoveryResponse.resources. */
export const xdsRegistry = createRegistry(
  TrustBundleSchema,
  ClusterSchema,
  ClusterLoadAssignmentSchema,
  ListenerSchema,
  RouteConfigurationSchema,
);
