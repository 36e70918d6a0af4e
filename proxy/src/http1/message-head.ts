// HTTP/1.1 message heads as text, and the framing facts the codec reads from header lists.
// Header names and values are passed as llhttp delivered them (it refuses CR, LF and NUL in
// both), or as the proxy made them; heads are written as latin1, byte for byte what arrived.
import { STATUS_CODES } from 'node:http';

export function requestHead(method: string, path: string, headers: readonly string[]): string {
  return fieldLines(`${method} ${path} HTTP/1.1\r\n`, headers);
}

/** A status line and headers, without the blank line (the codec adds framing headers first). */
export function responseHead(status: number, reason: string, headers: readonly string[]): string {
  return fieldLines(`HTTP/1.1 ${status} ${reason || STATUS_CODES[status] || 'Unknown'}\r\n`, headers);
}

/** One `name: value` line per field of [name, value, ...]. */
export function headerLines(fields: readonly string[]): string {
  return fieldLines('', fields);
}

/** `text` followed by one `name: value` line per field of [name, value, ...]. */
function fieldLines(text: string, fields: readonly string[]): string {
  let out = text;
  for (let i = 0; i + 1 < fields.length; i += 2) out += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return out;
}

/** Statuses whose responses never have a body (RFC 9110 §6.4.1). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

const CHUNKED_END = '0\r\n\r\n';

/** The size line of a chunk. */
export function chunkSize(bytes: number): string {
  return `${bytes.toString(16)}\r\n`;
}

/** The end of a chunked body with trailer fields. */
export function chunkedEnd(trailers: readonly string[] | undefined): string {
  if (trailers === undefined || trailers.length === 0) return CHUNKED_END;
  return `${fieldLines('0\r\n', trailers)}\r\n`;
}

/** `Date` for responses the proxy writes itself, cached for the second. */
let dateSecond = 0;
let dateText = '';
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
