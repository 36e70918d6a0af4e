// The sidecar's telemetry as the listeners see it: begin a RequestRecord, fill it at a few
// points, finish it once from the request's Outcome (the listeners' onOutcome). Finishing
// feeds metrics, the access log, spans and taps. Also owns trace propagation on the
// forwarded headers (W3C traceparent, B3 kept in step; a new unsampled trace rides to the
// next sidecar inside the x-request-id this sidecar makes, trace-context.ts) and the
// x-weft-source header that tells the next hop the caller's version: connections to peer
// sidecars send it once, with their first request (connectionHeaders, given to the upstream
// pools), and the inbound keeps it for the connection, as Istio's peer metadata exchange
// does per connection. Who called is what mTLS proved: an inbound record takes source
// service, namespace and identity from the peer's SPIFFE ID, and the header only for its
// version (and only when it names that same service); plaintext peers (mtls: disabled or
// permissive) are known by the header alone, bounded. Off (--telemetry off, or paused):
// begin() returns undefined and nothing else runs. A finished record that no tap holds is
// reused for a later request (onOutcome).

import type { Socket } from 'node:net';
import { parseSpiffeId } from '@weft/certs';
import type { DestinationStream } from 'pino';
import type { ClusterSpec } from '../cluster/cluster-manager.ts';
import type { ProxyRequest } from '../http/exchange.ts';
import { isNamed, rawHeader, SOURCE_HEADER } from '../http/headers.ts';
import type { RequestOutcome } from '../http/request-outcome.ts';
import { peerIdentityOf } from '../tls/peer-identity.ts';
import { AccessLog, type AccessLogOptions } from './access-log.ts';
import type { TelemetryExporter } from './exporter.ts';
import { RequestMetrics } from './request-metrics.ts';
import { type Direction, RequestRecord } from './request-record.ts';
import { Sampler } from './sampler.ts';
import { Taps } from './tap.ts';
import { TcpMetrics } from './tcp-metrics.ts';
import {
  formatTraceparent,
  isTraceRequestId,
  newSpanId,
  newTraceparent,
  newTraceRequestId,
  parseB3Multi,
  parseB3Single,
  parseTraceparent,
  traceparentFromRequestId,
  traceparentSpanId,
  traceparentTraceId,
} from './trace-context.ts';

const MAX_OTHER_SOURCES = 100;
/** Finished records kept for reuse: more than a loaded sidecar has in flight at once. */
const MAX_SPARE_RECORDS = 512;
/** Peer identities remembered with their parsed service and namespace. */
const MAX_PEERS = 1024;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const VERSION = /^[A-Za-z0-9._-]{0,63}$/;
/** On an inbound connection: who is calling on it, worked out at its first request. */
const SOURCE = Symbol('weft.source');

/** Who is calling on an inbound connection: what mTLS proved and its x-weft-source said, as
 * checked (#sourceOf). Each request's record copies it. */
interface Source {
  readonly service: string;
  readonly namespace: string;
  readonly version: string;
  /** The SPIFFE ID the peer proved; '' for plaintext. */
  readonly identity: string;
  /** A sidecar that said who it is: 'mtls' one its certificate proved, 'plaintext' one known
   * by its header alone; undefined for any other caller. */
  readonly sidecar: 'mtls' | 'plaintext' | undefined;
}

/** A caller nothing is known of. */
const UNKNOWN_SOURCE: Source = { service: 'unknown', namespace: '', version: '', identity: '', sidecar: undefined };

type WithSource = Socket & { [SOURCE]?: Source };

interface KnownPeer {
  readonly service: string;
  readonly namespace: string;
}

/** Makes the record a new trace's first span: its traceparent comes made, one flat value for
 * the wire. */
function startTrace(r: RequestRecord): void {
  const traceparent = newTraceparent();
  r.traceId = traceparentTraceId(traceparent);
  r.spanId = traceparentSpanId(traceparent);
  r.traceparent = r.sampled ? formatTraceparent(r.traceId, r.spanId, true) : traceparent;
}

/** What only a span, a tap or the access log reads, read at the end from the request and
 * the headers it went on with. Kept out of #finish, which every request runs: inlined
 * there, this rare path made the common one about 100 instructions dearer (callgrind). */
function readDetails(r: RequestRecord): void {
  const req = r.request;
  if (req !== undefined) {
    r.method = req.method;
    r.path = req.url;
    r.authority = rawHeader(req.rawHeaders, 'host') ?? rawHeader(req.rawHeaders, ':authority') ?? ''; // HTTP/2's Host
  }
  if (r.forwarded !== undefined) {
    r.requestId = rawHeader(r.forwarded, 'x-request-id') ?? '';
    if (r.traceInRequestId && isTraceRequestId(r.requestId)) {
      // Its ids are read (for a tap) from the request id that carried the trace.
      r.traceId = r.requestId;
      r.spanId = r.requestId.slice(16);
    }
  }
  if (r.traceId === '' && r.traceparent !== '') {
    // A trace carried in the request id, its ids not read yet (begin).
    r.traceId = traceparentTraceId(r.traceparent);
    r.parentSpanId = traceparentSpanId(r.traceparent);
  }
}

/** What telemetry reads of an endpoint an attempt goes to (cluster/host.ts). */
export interface AttemptTarget {
  readonly labels: Readonly<Record<string, string>>;
  /** The SPIFFE ID the endpoint must prove; '' for plaintext. */
  readonly identity: string;
}

/** Outbound: an attempt goes to this endpoint. The last one called is what is recorded;
 * address and attempt count come from the Outcome at the end. */
export function attempted(r: RequestRecord, endpoint: AttemptTarget): void {
  r.destinationVersion = endpoint.labels['version'] ?? '';
  r.destinationIdentity = endpoint.identity;
}

export interface TelemetryOptions {
  readonly enabled: boolean;
  readonly self: { readonly service: string; readonly namespace: string; readonly version: string; readonly identity: string };
  /** Share of new traces (no sampling decision from upstream) that are recorded, 0–1. */
  readonly traceSampleRate: number;
  readonly accessLog: AccessLogOptions;
  readonly maxSeries?: number;
}

export class Telemetry {
  /** Configured at startup: without it there is no exporter and no TCP watching. */
  readonly enabled: boolean;
  /** Whether requests are recorded now; the admin port can pause and resume it. */
  recording: boolean;
  readonly requests: RequestMetrics;
  readonly tcp = new TcpMetrics();
  readonly taps: Taps;
  exporter: TelemetryExporter | undefined;
  /** What each connection to a peer sidecar sends once, with its first request: who is
   * calling (x-weft-source: service/namespace/version). None when telemetry is off. */
  readonly connectionHeaders: readonly string[];
  readonly #self: TelemetryOptions['self'];
  /** Which new traces (no decision from upstream) are recorded. */
  readonly #sampler: Sampler;
  readonly #accessLog: AccessLog | undefined;
  /** "service/namespace" of every service this sidecar knows. */
  #known = new Set<string>();
  /** Callers named by x-weft-source that the config does not list (an ingress, say): at most
   * MAX_OTHER_SOURCES, so a forged header cannot grow the label sets without bound. */
  readonly #otherSources = new Set<string>();
  /** Peer SPIFFE ID → its service and namespace, parsed once. */
  readonly #peers = new Map<string, KnownPeer>();
  /** One string object for each name an x-weft-source gave (at most MAX_PEERS, then it starts
   * again). Each connection's header is new text, so without this every connection from a
   * workload would record its version as a different object: equal strings that are
   * different objects are compared character by character (request-metrics.ts compares a
   * record's labels with a series' on every request), the same object at one comparison. */
  readonly #names = new Map<string, string>();
  /** Finished records that nothing keeps, for the next requests (request-record.ts). */
  readonly #spare: RequestRecord[] = [];

  constructor(options: TelemetryOptions, stdout: DestinationStream) {
    this.enabled = options.enabled;
    this.recording = options.enabled;
    this.#self = options.self;
    this.connectionHeaders = options.enabled
      ? [SOURCE_HEADER, `${options.self.service}/${options.self.namespace}/${options.self.version}`]
      : [];
    this.#sampler = new Sampler(options.traceSampleRate);
    this.requests = new RequestMetrics(options.maxSeries === undefined ? {} : { maxSeries: options.maxSeries });
    this.taps = new Taps(() => this.exporter?.tapPending());
    this.#accessLog = options.enabled && options.accessLog.target !== 'off' ? new AccessLog(options.accessLog, stdout) : undefined;
    this.#known.add(`${options.self.service}/${options.self.namespace}`);
  }

  get accessLogSampledOut(): number {
    return this.#accessLog?.sampledOut ?? 0;
  }

  close(): void {
    this.#accessLog?.close();
  }

  /** Pauses or resumes recording (no effect when telemetry was off at startup). */
  setRecording(on: boolean): boolean {
    this.recording = on && this.enabled;
    return this.recording;
  }

  /** Services named in the applied config; called after each config update. */
  setKnownServices(services: Iterable<{ service: string; namespace: string }>): void {
    const known = new Set<string>([`${this.#self.service}/${this.#self.namespace}`]);
    for (const s of services) known.add(`${s.service}/${s.namespace}`);
    this.#known = known;
  }

  /** Starts a record for a request that arrived at `startMs` (performance.now()); reads the
   * trace context it carries and, inbound, who sent it. */
  begin(req: ProxyRequest, direction: Direction, startMs: number): RequestRecord | undefined {
    if (!this.recording) return undefined;
    let r = this.#spare.pop();
    if (r === undefined) r = new RequestRecord(direction, startMs);
    else r.reset(direction, startMs);
    r.request = req;
    const self = this.#self;
    if (direction === 'outbound') {
      r.sourceService = self.service;
      r.sourceNamespace = self.namespace;
      r.sourceVersion = self.version;
      r.sourceIdentity = self.identity;
    } else {
      r.destinationService = self.service;
      r.destinationNamespace = self.namespace;
      r.destinationVersion = self.version;
      r.destinationIdentity = self.identity;
    }
    const raw = req.rawHeaders;
    let traceparent: string | undefined;
    let b3: string | undefined;
    let b3Trace: string | undefined;
    let b3Span: string | undefined;
    let b3Sampled: string | undefined;
    let source: string | undefined;
    let requestId: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      switch (name.length) {
        case 2:
          if (name === 'b3' || name === 'B3') b3 = raw[i + 1];
          break;
        case 10:
          if (isNamed(name, 'tracestate')) r.traceState = raw[i + 1] as string;
          break;
        case 11:
          if (isNamed(name, 'traceparent')) traceparent = raw[i + 1];
          else if (isNamed(name, 'x-b3-spanid')) b3Span = raw[i + 1];
          break;
        case 12:
          // x-request-id and the x-b3-* pair are told apart by one character.
          if ((name.charCodeAt(2) | 0x20) === 114 /* r */) {
            if (isNamed(name, 'x-request-id')) requestId = raw[i + 1];
          } else if (isNamed(name, 'x-b3-traceid')) b3Trace = raw[i + 1];
          else if (isNamed(name, 'x-b3-sampled')) b3Sampled = raw[i + 1];
          break;
        case 13:
          if (isNamed(name, SOURCE_HEADER)) source = raw[i + 1];
          break;
      }
    }
    const sidecar = direction === 'inbound' ? this.#readSource(r, req.connection, source) : undefined;
    r.traceHeaders = traceparent !== undefined || b3 !== undefined || b3Trace !== undefined || b3Span !== undefined;
    const incoming =
      (traceparent !== undefined ? parseTraceparent(traceparent) : undefined) ??
      (b3 !== undefined ? parseB3Single(b3) : undefined) ??
      (b3Trace !== undefined ? parseB3Multi(b3Trace, b3Span, b3Sampled) : undefined);
    // Only a sidecar that said who it is sends a trace inside its request id (a 32-digit id
    // from anyone else, such as an nginx in front, is only a request id).
    const carried =
      incoming === undefined && sidecar !== undefined && requestId !== undefined
        ? traceparentFromRequestId(requestId, sidecar === 'mtls')
        : undefined;
    if (incoming) {
      r.traceId = incoming.traceId;
      r.parentSpanId = incoming.parentSpanId;
      r.sampled = incoming.sampled ?? this.#sampler.next();
      r.traceFormat = incoming.format;
      // An unsampled W3C context passes through as it came (no span of ours will exist);
      // B3 is rewritten always, its headers being kept in step with traceparent.
      if (!r.sampled && incoming.format === 'w3c' && this.#accessLog === undefined) return r;
    } else if (carried !== undefined) {
      // The calling sidecar started this trace unsampled and sent it inside the request id:
      // the app gets the traceparent the caller did not send (its span as the parent).
      r.traceFormat = 'w3c';
      if (this.#accessLog === undefined) {
        // No span of ours: its ids are read from it at the end, and only for a tap (#finish).
        r.traceparent = carried;
        return r;
      }
      r.traceId = requestId as string;
      r.parentSpanId = (requestId as string).slice(16);
    } else {
      r.sampled = this.#sampler.next();
      if (!r.sampled && !r.traceHeaders && direction === 'outbound' && requestId === undefined && this.#accessLog === undefined) {
        // Not sampled, no trace headers to replace, and the request id is the sidecar's to
        // make: the trace goes inside it (#propagate), not as a header of its own. Nothing
        // here reads its ids until the end.
        r.traceInRequestId = true;
        return r;
      }
      startTrace(r);
      return r;
    }
    r.spanId = newSpanId();
    r.traceparent = formatTraceparent(r.traceId, r.spanId, r.sampled);
    return r;
  }

  /** Outbound: the x-request-id to make for this request if it has none (forwardRequestHeaders'
   * requestId): the id of the trace this sidecar starts for it, which carries the trace when
   * begin() put it there (so an app's logs and its traces meet at one id); undefined for a
   * trace that came from the app (a random id is made). */
  requestIdFor(r: RequestRecord | undefined): string | undefined {
    if (r === undefined) return undefined;
    if (r.traceInRequestId) return newTraceRequestId();
    return r.traceFormat === 'none' && r.traceId !== '' ? r.traceId : undefined;
  }

  /** Outbound: the request was routed; fixes the headers every attempt goes out with.
   * Call once per request, before the first attempt. */
  routed(r: RequestRecord, headers: string[], route: string, cluster: ClusterSpec): void {
    r.route = route;
    r.destinationService = cluster.service;
    r.destinationNamespace = cluster.namespace;
    this.#propagate(r, headers);
  }

  /** Inbound: the request goes to the app; fixes the headers it goes out with. */
  forwarding(r: RequestRecord, headers: string[], appAddress: string): void {
    r.upstreamAddress = appAddress;
    this.#propagate(r, headers);
  }

  /** The listeners' onOutcome: finishes the request's record, if it has one. */
  readonly onOutcome = (outcome: RequestOutcome): void => {
    const r = outcome.telemetry;
    if (r === undefined) return;
    this.completed(r, outcome);
    // Unless a tap holds it (spans and log lines are written out at once), nothing else holds
    // the record now: the outcome lets go of it (so whatever still holds the outcome cannot
    // reach it) and it serves a later request.
    if (this.taps.count === 0 && this.#spare.length < MAX_SPARE_RECORDS) {
      outcome.telemetry = undefined;
      this.#spare.push(r);
    }
  };

  /** The request is over, as the request path recorded it (retries, timeouts, the proxy's
   * own answers); the record keeps what only it knows (trace ids, peers, request bytes). */
  completed(r: RequestRecord, ended: RequestOutcome): void {
    if (ended.route !== '') r.route = ended.route;
    r.status = ended.status;
    r.responseFlags = ended.flags;
    r.grpcStatus = ended.grpcStatus;
    r.attempts = ended.attempts;
    if (ended.upstreamAddress !== '') r.upstreamAddress = ended.upstreamAddress;
    r.responseStartMs = ended.responseStartMs;
    r.responseBytes = ended.responseBytes;
    r.durationMs = ended.durationMs;
    this.#finish(r);
  }

  #finish(r: RequestRecord): void {
    const req = r.request;
    // What arrived of the body (a chunked upload declares no size; a cut one is short).
    if (req?.body !== undefined) r.requestBytes = req.body.received;
    if (r.sampled || this.taps.count > 0 || this.#accessLog !== undefined) readDetails(r);
    r.request = undefined;
    r.forwarded = undefined;
    this.requests.observe(r);
    if (r.sampled && this.exporter) this.exporter.addSpan(r);
    if (this.taps.count > 0) this.taps.offer(r, r.startMs + r.durationMs);
    if (this.#accessLog) this.#accessLog.write(r);
  }

  /** Inbound: who called. An mTLS peer is its certificate's service and namespace; the
   * x-weft-source header adds only its version, and only when it names that same service.
   * A plaintext peer is known by the header alone, within bounds. The header comes once per
   * connection (with its first request): who it showed is kept on the connection, and each
   * request copies it. Returns whether a sidecar called (Source.sidecar). */
  #readSource(r: RequestRecord, connection: Socket, header: string | undefined): Source['sidecar'] {
    let source = (connection as WithSource)[SOURCE];
    if (source === undefined || header !== undefined) {
      source = this.#sourceOf(connection, header, source);
      (connection as WithSource)[SOURCE] = source;
    }
    r.sourceService = source.service;
    r.sourceNamespace = source.namespace;
    r.sourceVersion = source.version;
    r.sourceIdentity = source.identity;
    return source.sidecar;
  }

  /** Who is calling on a connection, from its peer identity and the x-weft-source header a
   * request brought (`before`: what the connection showed until now, which a header that does
   * not check out leaves as it was). */
  #sourceOf(connection: Socket, header: string | undefined, before: Source | undefined): Source {
    const peer = peerIdentityOf(connection);
    let known: KnownPeer | undefined;
    if (peer !== undefined) {
      known = this.#peerOf(peer);
      if (!known) return UNKNOWN_SOURCE;
    }
    const caller = header === undefined ? undefined : this.#callerOf(header, known);
    if (caller !== undefined) return { ...caller, identity: peer ?? '', sidecar: peer === undefined ? 'plaintext' : 'mtls' };
    if (before !== undefined) return before;
    return known === undefined
      ? UNKNOWN_SOURCE
      : { service: known.service, namespace: known.namespace, version: '', identity: peer as string, sidecar: undefined };
  }

  /** The caller an x-weft-source names, if it may: an mTLS peer only as itself, a plaintext
   * one as a service the config lists or one of MAX_OTHER_SOURCES others. */
  #callerOf(header: string, known: KnownPeer | undefined): Pick<Source, 'service' | 'namespace' | 'version'> | undefined {
    const first = header.indexOf('/');
    const second = header.indexOf('/', first + 1);
    if (first <= 0 || second < 0) return undefined;
    const claimedService = this.#named(header.slice(0, first));
    const claimedNamespace = this.#named(header.slice(first + 1, second));
    const raw = header.slice(second + 1);
    // Bounded: the version is a label value of a known service's workload.
    const version = VERSION.test(raw) ? this.#named(raw) : 'invalid';
    if (known !== undefined) {
      if (claimedService !== known.service || claimedNamespace !== known.namespace) return undefined; // not what mTLS proved
      return { service: known.service, namespace: known.namespace, version };
    }
    const key = `${claimedService}/${claimedNamespace}`;
    if (!this.#known.has(key) && !this.#otherSources.has(key)) {
      if (this.#otherSources.size >= MAX_OTHER_SOURCES || !DNS_LABEL.test(claimedService) || !DNS_LABEL.test(claimedNamespace))
        return undefined;
      this.#otherSources.add(key);
    }
    return { service: claimedService, namespace: claimedNamespace, version };
  }

  #named(name: string): string {
    let same = this.#names.get(name);
    if (same === undefined) {
      if (this.#names.size >= MAX_PEERS) this.#names.clear();
      this.#names.set(name, name);
      same = name;
    }
    return same;
  }

  #peerOf(spiffeId: string): KnownPeer | undefined {
    let peer = this.#peers.get(spiffeId);
    if (peer === undefined) {
      const parsed = parseSpiffeId(spiffeId);
      if (!parsed.ok) return undefined;
      if (this.#peers.size >= MAX_PEERS) this.#peers.clear();
      peer = { service: parsed.identity.serviceAccount, namespace: parsed.identity.namespace };
      this.#peers.set(spiffeId, peer);
    }
    return peer;
  }

  /** Rewrites the trace headers for the next hop (our span becomes its parent) and keeps
   * B3 in step when the caller used B3; x-request-id is read from them at the end.
   * (http/headers.ts has dropped any x-weft-source: it goes once per connection.) */
  #propagate(r: RequestRecord, headers: string[]): void {
    r.forwarded = headers;
    if (!r.traceHeaders) {
      // A new trace (the common case at the first hop): no trace headers came to replace.
      if (r.traceInRequestId) {
        // The request id forwardRequestHeaders made for it comes last: requestIdFor()'s, or
        // else (a caller that did not ask) a random one, which the trace's replaces.
        const last = headers.length - 2;
        if (last >= 0 && headers[last] === 'x-request-id') {
          if (!isTraceRequestId(headers[last + 1] as string)) headers[last + 1] = newTraceRequestId();
          return;
        }
        r.traceInRequestId = false;
        startTrace(r);
      }
      headers.push('traceparent', r.traceparent);
      return;
    }
    // A caller's unsampled W3C context goes on as it came (begin made no traceparent).
    if (r.traceparent === '') return;
    let traceparent = -1;
    let b3 = -1;
    let b3Span = -1;
    let b3Parent = -1;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      switch (name.length) {
        case 2:
          if (isNamed(name, 'b3')) b3 = i + 1;
          break;
        case 11:
          if (isNamed(name, 'traceparent')) traceparent = i + 1;
          else if (isNamed(name, 'x-b3-spanid')) b3Span = i + 1;
          break;
        case 17:
          if (isNamed(name, 'x-b3-parentspanid')) b3Parent = i + 1;
          break;
      }
    }
    if (traceparent >= 0) headers[traceparent] = r.traceparent;
    else headers.push('traceparent', r.traceparent);
    if (b3 >= 0) headers[b3] = `${r.traceId}-${r.spanId}-${r.sampled ? '1' : '0'}${r.parentSpanId ? `-${r.parentSpanId}` : ''}`;
    if (b3Span >= 0) {
      headers[b3Span] = r.spanId;
      if (b3Parent >= 0) headers[b3Parent] = r.parentSpanId;
      else if (r.parentSpanId) headers.push('x-b3-parentspanid', r.parentSpanId);
    }
  }
}
