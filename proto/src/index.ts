// The Weft API: generated messages and the helpers both sides share. Import from here,
// never from src/gen directly.
export * from './gen/weft/identity/v1/ca_pb.ts';
export * from './gen/weft/identity/v1/trust_bundle_pb.ts';
export * from './gen/weft/telemetry/v1/telemetry_pb.ts';
export * from './gen/weft/xds/v1/authorization_pb.ts';
export * from './gen/weft/xds/v1/cluster_pb.ts';
export * from './gen/weft/xds/v1/discovery_pb.ts';
export * from './gen/weft/xds/v1/endpoint_pb.ts';
export * from './gen/weft/xds/v1/listener_pb.ts';
export * from './gen/weft/xds/v1/protocol_pb.ts';
export * from './gen/weft/xds/v1/route_pb.ts';
export { toGrpcServiceDefinition } from './grpc.ts';
export { RESOURCE_TYPES, type ResourceType, resourceTypeOf, TYPE_URL, xdsRegistry } from './resource-types.ts';
