// The seam to llhttp, the HTTP/1.1 parser node:http itself uses, through Node's own binding
// (`_http_common`'s HTTPParser). Strict parsing is its job: request smuggling shapes
// (Content-Length with Transfer-Encoding, duplicate Content-Length, bad chunk framing),
// header size limits, invalid characters. `consume()` lets the parser read a socket's
// handle directly (TCP or TLS), so bytes go from the kernel into llhttp without a JS stream
// in between, and JavaScript runs only per message, body chunk and read.
//
// The binding is undocumented; Node 24 is pinned (the `node` devDependency) and
// checkParser() fails startup with a clear error if it ever changes shape.
/// <reference path="./node-http-common.d.ts" />
import { HTTPParser, methods, type ParseError } from 'node:_http_common';
import { enterRead, flushReads } from './write-batch.ts';

export type { ParseError };

/** Return values of onHead: parse a body as framed, none (a HEAD response), or switch protocols. */
export const BODY = 0;
export const NO_BODY = 1;
export const UPGRADE = 2;

const { kOnHeaders, kOnHeadersComplete, kOnBody, kOnMessageComplete, kOnExecute } = HTTPParser;

/** What a connection does with what the parser finds. Called with the parser's reads. */
export interface MessageEvents {
  /** A request or response head. Headers are [name, value, ...] as received. Requests carry
   * method and url; responses status and reason. Returns BODY, NO_BODY or UPGRADE. */
  onHead(
    versionMinor: number,
    headers: string[],
    method: string,
    url: string,
    status: number,
    reason: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number;
  onBody(chunk: Buffer): void;
  /** The message is complete; trailer fields (chunked bodies), [name, value, ...]. */
  onComplete(trailers: string[]): void;
  /** After each read the parser consumed: bytes parsed, or why it stopped. Writes made
   * while handling the read go out right after this (write-batch.ts). */
  onExecute(result: number | ParseError): void;
  /** One of the handlers above threw (a bug): the message is abandoned, and no exception
   * reaches the native parser (which would take the process down). */
  onFailure(error: unknown): void;
}

const NO_FIELDS: string[] = [];

/** One parser per connection; `kind` says whether it reads requests or responses. */
export class MessageParser {
  readonly #parser: HTTPParser;
  readonly #events: MessageEvents;
  /** Fields flushed before the head or the trailers completed (more than 32, or split reads). */
  #fields: string[] = NO_FIELDS;
  #url = '';
  #inHead = true;
  /** Whether onComplete is wanted for the message being parsed (see bodiless()). */
  #complete = true;
  readonly #onComplete: () => void;

  constructor(kind: 'request' | 'response', maxHeaderBytes: number, events: MessageEvents) {
    this.#events = events;
    const parser = new HTTPParser();
    // The C++ side looks each callback up by index on every event: fill index 0 (no
    // message-begin callback) so the indices 0–5 are one packed run of elements.
    parser[HTTPParser.kOnMessageBegin] = null;
    parser.initialize(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, maxHeaderBytes, HTTPParser.kLenientNone);
    this.#parser = parser;
    parser[kOnHeaders] = (fields: string[], url: string) => {
      this.#fields = this.#fields === NO_FIELDS ? fields : this.#fields.concat(fields);
      if (this.#inHead && url) this.#url += url;
    };
    parser[kOnHeadersComplete] = (
      _major: number,
      minor: number,
      fields: string[] | undefined,
      method: number | undefined,
      url: string | undefined,
      status: number | undefined,
      reason: string | undefined,
      upgrade: boolean,
      keepAlive: boolean,
    ): number => {
      let headers = fields;
      let target = url;
      if (headers === undefined) {
        headers = this.#fields;
        target = this.#url;
      } else if (this.#fields !== NO_FIELDS) {
        headers = this.#fields.concat(headers);
      }
      this.#fields = NO_FIELDS;
      this.#url = '';
      this.#inHead = false;
      enterRead();
      if (!this.#complete) {
        this.#complete = true;
        parser[kOnMessageComplete] = this.#onComplete;
      }
      try {
        return this.#events.onHead(
          minor,
          headers,
          method === undefined ? '' : (methods[method] ?? ''),
          target ?? '',
          status ?? 0,
          reason ?? '',
          upgrade,
          keepAlive,
        );
      } catch (error) {
        this.#events.onFailure(error);
        return NO_BODY;
      }
    };
    parser[kOnBody] = (chunk: Buffer) => {
      enterRead();
      try {
        this.#events.onBody(chunk);
      } catch (error) {
        this.#events.onFailure(error);
      }
    };
    this.#onComplete = () => {
      enterRead();
      const trailers = this.#fields;
      this.#fields = NO_FIELDS;
      this.#inHead = true;
      try {
        this.#events.onComplete(trailers);
      } catch (error) {
        this.#events.onFailure(error);
      }
    };
    parser[kOnMessageComplete] = this.#onComplete;
    parser[kOnExecute] = (result: number | ParseError) => {
      try {
        this.#events.onExecute(result);
      } catch (error) {
        this.#events.onFailure(error);
      }
      flushReads();
    };
  }

  /**
   * Called from onHead: this message has no body, so its end is not worth a call into
   * JavaScript (a GET is complete with its head). Saves one of the few crossings a request
   * costs; the parser reads the next message as usual.
   */
  bodiless(): void {
    this.#complete = false;
    this.#inHead = true;
    this.#parser[kOnMessageComplete] = undefined;
  }

  /** Parses bytes already read from the socket (those a detector looked at). */
  execute(data: Buffer): number | ParseError {
    const result = this.#parser.execute(data);
    flushReads();
    return result;
  }

  /** The peer closed: a body delimited by the close is complete now. */
  finish(): ParseError | undefined {
    const result = this.#parser.finish();
    flushReads();
    return result;
  }

  /** Reads `socket`'s handle directly from now on; each read ends in onExecute. */
  consume(socket: object): boolean {
    const handle = (socket as { _handle?: object | null })._handle;
    if (!handle) return false;
    this.#parser.consume(handle);
    return true;
  }

  /** Gives the handle back to the socket (an upgrade: the bytes are not HTTP any more). */
  unconsume(): void {
    this.#parser.unconsume();
  }

  /** The read being parsed right now (inside onExecute): an upgrade's first bytes are in it. */
  currentBuffer(): Buffer {
    return this.#parser.getCurrentBuffer();
  }

  /** Frees the native parser; the object is unusable afterwards. */
  close(): void {
    this.#parser.unconsume();
    this.#parser.remove();
    this.#parser.free();
    this.#parser.close();
  }

  /** close() once the current turn is over: the parser may be inside one of its callbacks
   * now (a socket closed or handed over while a read is parsed). */
  closeSoon(): void {
    setImmediate(closeParser, this);
  }
}

function closeParser(parser: MessageParser): void {
  parser.close();
}

/** Throws if this Node's HTTPParser is not the one this file was written against. */
export function checkParser(): void {
  const seen: string[] = [];
  const probe = new MessageParser('request', 8192, {
    onHead: (_minor, headers, method, url) => {
      seen.push(method, url, ...headers);
      return BODY;
    },
    onBody: () => {},
    onComplete: () => seen.push('complete'),
    onExecute: () => {},
    onFailure: (error) => {
      throw error;
    },
  });
  const input = Buffer.from('GET /probe HTTP/1.1\r\nHost: h\r\n\r\n');
  const parsed = probe.execute(input);
  probe.close();
  if (parsed !== input.length || seen.join(' ') !== 'GET /probe Host h complete')
    throw new Error(`this Node.js (${process.version}) has an HTTP parser binding the sidecar does not know; use Node 24`);
}
