// The sidecar's end of the aggregated discovery stream. It subscribes to every type,
// applies each response through AppliedConfig, and answers with an ACK (new version) or
// a NACK (previous version + error detail). When the stream breaks it reconnects with
// backoff and jitter, announcing the versions it holds; meanwhile it keeps serving the
// last good config.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  AggregatedDiscoveryService,
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  type Node,
  RESOURCE_TYPES,
  type ResourceType,
  resourceTypeOf,
  TYPE_URL,
  toGrpcServiceDefinition,
} from '@weft/proto';
import type { Logger } from 'pino';
import type { AppliedConfig } from './applied-config.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';

/** The connection as a state machine:
 * - 'connecting': a stream was opened, no response yet;
 * - 'connected': at least one response arrived on the current stream;
 * - 'backoff': the stream broke; waiting to open a new one;
 * - 'closed': close() was called. */
export type DiscoveryState = 'connecting' | 'connected' | 'backoff' | 'closed';

export interface DiscoveryClientOptions {
  readonly target: string;
  /** mTLS with this workload's certificate: the control plane serves the identity in it. */
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions?: grpc.ChannelOptions;
  readonly node: Node;
  readonly config: AppliedConfig;
  readonly log: Logger;
  readonly backoff: BackoffOptions;
  /** Called after each applied response (tests and readiness use it). */
  readonly onApplied?: () => void;
}

type Stream = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

const AdsClient = grpc.makeGenericClientConstructor(toGrpcServiceDefinition(AggregatedDiscoveryService), 'AggregatedDiscoveryService');

/** How long a request waits for the control plane to answer for a host it asked about. */
const ON_DEMAND_TIMEOUT_MS = 3000;
const MAX_ON_DEMAND_HOSTS = 10_000;

function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/:\d+$/, '');
}

export class DiscoveryClient {
  readonly #options: DiscoveryClientOptions;
  readonly #log: Logger;
  readonly #client: grpc.Client;
  readonly #backoff: Backoff;
  #stream: Stream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #state: DiscoveryState = 'backoff';
  /** On-demand discovery: the hosts asked for so far (sent as the route type's resource names). */
  readonly #hosts = new Set<string>();
  /** Hosts the control plane has answered for: a missing route for one of them is a 404. */
  readonly #answered = new Set<string>();
  /** Hosts asked for whose answer has not arrived yet; later requests for them wait too. */
  readonly #pending = new Map<string, Promise<void>>();
  #waiters: { host: string; settle: () => void }[] = [];
  #routeNonce = '';

  constructor(options: DiscoveryClientOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'xds', controlPlane: options.target });
    this.#backoff = new Backoff(options.backoff);
    this.#client = new AdsClient(options.target, options.credentials, {
      ...options.channelOptions,
      // Bounded, so a restarted control plane is found again within seconds.
      'grpc.initial_reconnect_backoff_ms': options.backoff.baseMs,
      'grpc.max_reconnect_backoff_ms': options.backoff.maxMs,
      'grpc.keepalive_time_ms': 15_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  get state(): DiscoveryState {
    return this.#state;
  }

  start(): void {
    this.#open();
  }

  /**
   * On-demand discovery for a host the outbound side has no route for. Returns a promise
   * that settles once the control plane has answered (the route table then has the host,
   * or it does not exist) or after ON_DEMAND_TIMEOUT_MS, or undefined when there is
   * nothing to wait for: the control plane already answered for this host (so a missing
   * route is a real 404), too many hosts were asked, or the control plane is away (the
   * host stays in the subscription and is asked again once it is back).
   */
  requestHost(hostHeader: string): Promise<void> | undefined {
    const host = normalizeHost(hostHeader);
    const pending = this.#pending.get(host);
    if (pending) return pending;
    if (this.#answered.has(host)) return undefined;
    if (!this.#hosts.has(host)) {
      if (this.#hosts.size >= MAX_ON_DEMAND_HOSTS) return undefined;
      this.#hosts.add(host);
    }
    const stream = this.#stream;
    if (!stream || this.#state !== 'connected') return undefined;
    stream.write(
      create(DiscoveryRequestSchema, {
        typeUrl: TYPE_URL.route,
        versionInfo: this.#options.config.version('route'),
        responseNonce: this.#routeNonce,
        resourceNames: [...this.#hosts],
      }),
    );
    const answered = new Promise<void>((resolve) => {
      const settle = () => {
        clearTimeout(timer);
        this.#pending.delete(host);
        resolve();
      };
      const timer = setTimeout(settle, ON_DEMAND_TIMEOUT_MS);
      this.#waiters.push({ host, settle });
    });
    this.#pending.set(host, answered);
    return answered;
  }

  close(): void {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.end();
    stream?.cancel();
    this.#client.close();
  }

  #open(): void {
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    const stream = (this.#client as unknown as { streamAggregatedResources(): Stream }).streamAggregatedResources();
    this.#stream = stream;
    stream.on('data', (response: DiscoveryResponse) => this.#onResponse(stream, response));
    stream.on('error', (error: grpc.ServiceError) => this.#onBroken(stream, `${grpc.status[error.code] ?? error.code}: ${error.details}`));
    stream.on('end', () => this.#onBroken(stream, 'stream ended by the control plane'));
    const { config, node } = this.#options;
    this.#routeNonce = '';
    for (const type of RESOURCE_TYPES) {
      stream.write(
        create(DiscoveryRequestSchema, {
          node,
          typeUrl: TYPE_URL[type],
          versionInfo: config.version(type),
          resourceNames: this.#namesFor(type),
        }),
      );
    }
  }

  #onResponse(stream: Stream, response: DiscoveryResponse): void {
    if (stream !== this.#stream) return;
    if (this.#state !== 'connected') {
      this.#state = 'connected';
      this.#backoff.reset();
      this.#log.info('connected to control plane');
    }
    const type = resourceTypeOf(response.typeUrl);
    if (!type) {
      this.#log.warn({ typeUrl: response.typeUrl }, 'response for an unknown type ignored');
      return;
    }
    const { config } = this.#options;
    const previous = config.version(type);
    if (type === 'route') this.#routeNonce = response.nonce;
    const result = config.apply(type, response.resources, response.versionInfo, Number(response.changeId));
    // A listener update that binds local ports answers once they are bound (or refused).
    if (typeof result === 'object') result.then((error) => this.#answer(stream, type, response, previous, error));
    else this.#answer(stream, type, response, previous, result);
  }

  /** ACK or NACK one response. */
  #answer(stream: Stream, type: ResourceType, response: DiscoveryResponse, previous: string, error: string | undefined): void {
    if (stream !== this.#stream) return;
    if (error === undefined) {
      this.#log.debug({ type, version: response.versionInfo, changeId: Number(response.changeId) }, 'config applied');
      stream.write(
        create(DiscoveryRequestSchema, {
          typeUrl: response.typeUrl,
          versionInfo: response.versionInfo,
          responseNonce: response.nonce,
          resourceNames: this.#namesFor(type),
        }),
      );
      this.#options.onApplied?.();
      if (type === 'route') this.#wakeWaiters();
    } else {
      this.#log.warn(
        { type, version: response.versionInfo, keeping: previous, error },
        'config rejected (NACK); keeping the last good config',
      );
      stream.write(
        create(DiscoveryRequestSchema, {
          typeUrl: response.typeUrl,
          versionInfo: previous,
          responseNonce: response.nonce,
          resourceNames: this.#namesFor(type),
          errorDetail: { code: grpc.status.INVALID_ARGUMENT, message: error },
        }),
      );
      if (type === 'route') this.#wakeWaiters();
    }
  }

  /** Every request states the whole subscription (xDS): for routes, the hosts asked so far. */
  #namesFor(type: ResourceType): string[] {
    return type === 'route' ? [...this.#hosts] : [];
  }

  /** A route response answers every host asked for before it. */
  #wakeWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const { host, settle } of waiters) {
      this.#answered.add(host);
      settle();
    }
  }

  #onBroken(stream: Stream, reason: string): void {
    if (stream !== this.#stream || this.#state === 'closed') return;
    this.#stream = undefined;
    stream.cancel();
    const delay = this.#backoff.next();
    this.#log.warn({ reason, retryInMs: delay }, 'lost the control plane; serving the last good config');
    this.#state = 'backoff';
    this.#timer = setTimeout(() => this.#open(), delay);
  }
}
