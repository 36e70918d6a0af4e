// A gRPC upstream and client for the end-to-end suites: @grpc/grpc-js on both ends, with a
// hand-built service definition whose messages are raw bytes (identity serializers), so no
// .proto is needed and tests can send messages of any size. The server records what each
// call saw (metadata, deadline, cancellation) so tests assert on what arrived.
import * as grpc from '@grpc/grpc-js';
import { onCleanup } from './cleanup.ts';

/** What every server call has (grpc-js does not export its ServerSurfaceCall). */
type SurfaceCall =
  | grpc.ServerUnaryCall<Buffer, Buffer>
  | grpc.ServerReadableStream<Buffer, Buffer>
  | grpc.ServerWritableStream<Buffer, Buffer>;

const raw = (b: Buffer) => b;
const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/weft.test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
});

/** Unary echoes; ClientStream answers with the concatenation; ServerStream sends the
 * request's count (decimal text) of numbered messages; Bidi echoes each message. */
export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Unary: method('Unary', false, false),
  ClientStream: method('ClientStream', true, false),
  ServerStream: method('ServerStream', false, true),
  Bidi: method('Bidi', true, true),
};

export const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => EchoClientApi;

export interface EchoClientApi extends grpc.Client {
  Unary(request: Buffer, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<Buffer>): grpc.ClientUnaryCall;
  ClientStream(
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<Buffer>,
  ): grpc.ClientWritableStream<Buffer>;
  ServerStream(request: Buffer, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<Buffer>;
  Bidi(metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<Buffer, Buffer>;
}

export interface GrpcCallSeen {
  readonly method: string;
  readonly metadata: Record<string, unknown>;
  /** ms between the call's arrival and its deadline; undefined without one. */
  readonly deadlineMs: number | undefined;
  cancelled: boolean;
}

export interface GrpcApp {
  readonly port: number;
  readonly calls: GrpcCallSeen[];
}

/**
 * Metadata the server obeys (request headers): x-sleep-ms (answer late; a cancelled call is
 * noted), x-fail (answer with that status code and message "failed on purpose"),
 * x-fail-once (UNAVAILABLE the first time this value is seen, then as usual).
 * Every answer carries trailing metadata x-trailer: yes and x-trailer-bin: 00 01 fe ff.
 */
export async function startGrpcApp(): Promise<GrpcApp> {
  const calls: GrpcCallSeen[] = [];
  const seen = (name: string, call: SurfaceCall): GrpcCallSeen => {
    const deadline = call.getDeadline();
    const entry: GrpcCallSeen = {
      method: name,
      metadata: call.metadata.getMap(),
      deadlineMs:
        deadline instanceof Date ? deadline.getTime() - Date.now() : Number.isFinite(deadline) ? Number(deadline) - Date.now() : undefined,
      cancelled: false,
    };
    (call as grpc.ServerUnaryCall<Buffer, Buffer>).on('cancelled', () => {
      entry.cancelled = true;
    });
    calls.push(entry);
    return entry;
  };
  const trailing = () => {
    const m = new grpc.Metadata();
    m.set('x-trailer', 'yes');
    m.set('x-trailer-bin', Buffer.from([0, 1, 0xfe, 0xff]));
    return m;
  };
  const failedOnce = new Set<string>();
  const failure = (call: SurfaceCall): grpc.ServerErrorResponse | undefined => {
    const once = call.metadata.get('x-fail-once')[0];
    if (once !== undefined && !failedOnce.has(String(once))) {
      failedOnce.add(String(once));
      return Object.assign(new Error('not yet'), { code: grpc.status.UNAVAILABLE, details: 'not yet' });
    }
    const code = call.metadata.get('x-fail')[0];
    if (code === undefined) return undefined;
    return Object.assign(new Error('failed on purpose'), { code: Number(code), details: 'failed on purpose', metadata: trailing() });
  };
  const sleepMs = (call: SurfaceCall) => Number(call.metadata.get('x-sleep-ms')[0] ?? 0);

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
  server.addService(ECHO_SERVICE, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      seen('Unary', call);
      const answer = () => {
        const failed = failure(call);
        if (failed) callback(failed);
        else callback(null, call.request, trailing());
      };
      const ms = sleepMs(call);
      if (ms > 0) setTimeout(answer, ms);
      else answer();
    },
    ClientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      seen('ClientStream', call);
      const parts: Buffer[] = [];
      call.on('data', (b: Buffer) => parts.push(b));
      call.on('end', () => callback(null, Buffer.concat(parts), trailing()));
    },
    ServerStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      seen('ServerStream', call);
      const count = Number(call.request.toString());
      for (let i = 0; i < count; i++) call.write(Buffer.from(`message ${i}`));
      call.end(trailing());
    },
    Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      seen('Bidi', call);
      call.on('data', (b: Buffer) => call.write(b));
      call.on('end', () => call.end(trailing()));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  onCleanup(() => {
    server.forceShutdown();
  });
  return { port, calls };
}

/** A client of the Echo service through `port` (a sidecar's outbound listener), calling
 * `authority` (the mesh host). */
export function echoClient(port: number, authority: string, options: grpc.ChannelOptions = {}): EchoClientApi {
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority,
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
    ...options,
  });
  onCleanup(() => client.close());
  return client;
}

/** A unary call as a promise: the answer or the error, with trailing metadata. */
export function unary(
  client: EchoClientApi,
  request: Buffer,
  metadata: Record<string, string> = {},
  options: grpc.CallOptions = {},
): Promise<{ error: grpc.ServiceError | null; response: Buffer | undefined; trailers: grpc.Metadata | undefined }> {
  return new Promise((resolve) => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) m.set(k, v);
    let trailers: grpc.Metadata | undefined;
    const call = client.Unary(request, m, options, (error, response) => {
      // 'status' follows the callback; wait a turn for it.
      setImmediate(() => resolve({ error, response, trailers }));
    });
    call.on('status', (status: grpc.StatusObject) => {
      trailers = status.metadata;
    });
  });
}

export { grpc };
