// One request on an HTTP/1.1 connection, as the request path sees it (http/exchange.ts):
// its head as llhttp read it, and its body (when framing announces one) fed by the
// connection as the parser delivers it. The headers object is built only if something asks
// (route header matchers).
import type { Socket } from 'node:net';
import type { LiveBody } from '../http/body.ts';
import type { ProxyRequest } from '../http/exchange.ts';

export class Http1Request implements ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly rawHeaders: string[];
  readonly connection: Socket;
  readonly body: LiveBody | undefined;
  /** The client keeps the connection open after this exchange (its version and Connection). */
  readonly keepAlive: boolean;
  #headers: Record<string, string | string[] | undefined> | undefined;

  constructor(
    method: string,
    url: string,
    versionMinor: number,
    rawHeaders: string[],
    connection: Socket,
    body: LiveBody | undefined,
    keepAlive: boolean,
  ) {
    this.method = method;
    this.url = url;
    this.httpVersionMinor = versionMinor;
    this.rawHeaders = rawHeaders;
    this.connection = connection;
    this.body = body;
    this.keepAlive = keepAlive;
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    this.#headers ??= headersObject(this.rawHeaders);
    return this.#headers;
  }
}

/** Lower-case names; repeated fields joined with ", " (Set-Cookie kept as a list). */
export function headersObject(raw: readonly string[]): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const seen = out[name];
    if (seen === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = `${seen}, ${value}`;
  }
  return out;
}
