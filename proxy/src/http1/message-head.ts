// HTTP/1.1 message heads as text, and the framing facts the codec reads from header lists.
// Header names and values are passed as llhttp delivered them (it refuses CR, LF and NUL in
// both), or as the proxy made them; heads are written as latin1, byte for byte what arrived.
import { STATUS_CODES } from 'node:http';

export function requestHead(method: string, path: string, headers: readonly string[]): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return head;
}

/** A status line and headers, without the blank line (the codec adds framing headers first). */
export function responseHead(status: number, reason: string, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${reason || STATUS_CODES[status] || 'Unknown'}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return head;
}

/** Statuses whose responses never have a body (RFC 9110 §6.4.1). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

export const CHUNKED_END = '0\r\n\r\n';

/** The size line of a chunk. */
export function chunkSize(bytes: number): string {
  return `${bytes.toString(16)}\r\n`;
}

/** The end of a chunked body with trailer fields. */
export function chunkedEnd(trailers: readonly string[]): string {
  if (trailers.length === 0) return CHUNKED_END;
  let text = '0\r\n';
  for (let i = 0; i + 1 < trailers.length; i += 2) text += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
  return `${text}\r\n`;
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
