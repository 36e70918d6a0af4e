// Turns a protobuf-es service descriptor into a grpc-js ServiceDefinition, so both sides
// use grpc-js for transport and protobuf-es for messages. Nothing here knows a service.
import { type DescMessage, type DescService, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type * as grpc from '@grpc/grpc-js';

export function toGrpcServiceDefinition<T extends GenServiceMethods>(service: GenService<T>): grpc.ServiceDefinition {
  const desc = service as unknown as DescService;
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of desc.methods) {
    definition[method.localName] = {
      path: `/${desc.typeName}/${method.name}`,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializerFor(method.input),
      requestDeserialize: deserializerFor(method.input),
      responseSerialize: serializerFor(method.output),
      responseDeserialize: deserializerFor(method.output),
      originalName: method.localName,
    };
  }
  return definition;
}

function serializerFor(schema: DescMessage) {
  // biome-ignore lint/suspicious/noExplicitAny: the descriptor erases the message type
  return (message: any): Buffer => Buffer.from(toBinary(schema, message));
}

function deserializerFor(schema: DescMessage) {
  return (bytes: Buffer) => fromBinary(schema, bytes);
}
