// A simulated sidecar: one real gRPC connection and one discovery stream to the control
// plane, speaking the protocol exactly as the real DiscoveryClient does — announce the
// node, subscribe to every type, ACK every response with its version and nonce — but
// without building routes, clusters or listeners, so a thousand fit in one process. Each
// presents its service's workload certificate (mTLS, as discovery requires) and discovers
// on demand, so it is sent what its Service declares in `calls`.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  AggregatedDiscoveryService,
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  RESOURCE_TYPES,
  TYPE_URL,
  toGrpcServiceDefinition,
} from '@weft/proto';
import { CONTROL_PLANE_TARGET_OPTIONS, controlPlaneCredentials, type WorkloadCredentials } from '../peers/join.ts';

const AdsClient = grpc.makeGenericClientConstructor(toGrpcServiceDefinition(AggregatedDiscoveryService), 'AggregatedDiscoveryService');

type Stream = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

export interface SimNode {
  readonly id: string;
  readonly service: string;
  readonly namespace: string;
  /** Announced as its inbound address, so the control plane registers an endpoint. */
  readonly inboundAddress: string;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();

export class SimSidecar {
  readonly node: SimNode;
  /** Highest change id among the responses this sidecar has ACKed, and when. */
  ackedChangeId = 0;
  ackedAtMs = 0;
  responses = 0;
  error: string | undefined;
  readonly #client: grpc.Client;
  readonly #stream: Stream;
  readonly #typesSeen = new Set<string>();
  readonly #onAck: (sim: SimSidecar, previousChangeId: number) => void;

  constructor(
    target: string,
    node: SimNode,
    join: { trustBundlePem: string; credentials: WorkloadCredentials },
    onAck: (sim: SimSidecar, previousChangeId: number) => void,
  ) {
    this.node = node;
    this.#onAck = onAck;
    this.#client = new AdsClient(target, controlPlaneCredentials(join.trustBundlePem, join.credentials), {
      ...CONTROL_PLANE_TARGET_OPTIONS,
      // Its own connection, as a separate sidecar process would have (grpc-js otherwise
      // shares one subchannel between clients with the same target and options).
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    this.#stream = (this.#client as unknown as { streamAggregatedResources(): Stream }).streamAggregatedResources();
    this.#stream.on('data', (response: DiscoveryResponse) => this.#onResponse(response));
    this.#stream.on('error', (error: grpc.ServiceError) => {
      this.error ??= `${grpc.status[error.code] ?? error.code}: ${error.details}`;
    });
    this.#stream.on('end', () => {
      this.error ??= 'stream ended by the control plane';
    });
    for (const type of RESOURCE_TYPES) {
      this.#stream.write(
        create(DiscoveryRequestSchema, {
          node: {
            id: this.node.id,
            service: this.node.service,
            namespace: this.node.namespace,
            inboundAddress: this.node.inboundAddress,
            proxyVersion: 'bench-sim',
            metadata: { discovery: 'on-demand' },
          },
          typeUrl: TYPE_URL[type],
        }),
      );
    }
  }

  /** Has received (and ACKed) at least one response of every type. */
  get synced(): boolean {
    return this.#typesSeen.size === RESOURCE_TYPES.length;
  }

  close(): void {
    this.#stream.removeAllListeners('data');
    this.#stream.on('error', () => undefined);
    this.#stream.cancel();
    this.#client.close();
  }

  #onResponse(response: DiscoveryResponse): void {
    this.#stream.write(
      create(DiscoveryRequestSchema, { typeUrl: response.typeUrl, versionInfo: response.versionInfo, responseNonce: response.nonce }),
    );
    this.responses += 1;
    this.#typesSeen.add(response.typeUrl);
    const changeId = Number(response.changeId);
    const previous = this.ackedChangeId;
    if (changeId > previous) {
      this.ackedChangeId = changeId;
      this.ackedAtMs = wallClockMs();
      this.#onAck(this, previous);
    }
  }
}
