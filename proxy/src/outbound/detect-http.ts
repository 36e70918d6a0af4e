// First-bytes detection for intercepted connections: does the client speak HTTP/1.x, or
// HTTP/2 with prior knowledge (both go to the listener's HTTP servers, which tell them apart
// again: http/h2-server.ts)? Only as much as sending non-HTTP bytes on unchanged needs.

/** 'http': an HTTP/1.x request line starts here; 'http2': the HTTP/2 preface; 'other': neither; 'more': too few bytes yet. */
export type Detected = 'http' | 'http2' | 'other' | 'more';

/** The longest method Node's HTTP parser knows (e.g. "MKACTIVITY") plus the space after it. */
const LONGEST_METHOD = 12;

/**
 * An HTTP/1.x request starts with a method — upper-case letters (RFC 9110 §9: methods are
 * tokens; every method in use is upper-case letters, "-" in a few WebDAV ones) — and one
 * space. TLS (0x16), PostgreSQL (a length), Redis ("*1\r\n" or "PING\r\n") do not; the
 * HTTP/2 preface ("PRI * HTTP/2.0") is told apart.
 */
export function detectHttp1(bytes: Buffer): Detected {
  const end = Math.min(bytes.length, LONGEST_METHOD);
  for (let i = 0; i < end; i++) {
    const c = bytes[i] as number;
    if (c === 0x20) return i < 3 ? 'other' : isPreface(bytes, i) ? 'http2' : 'http';
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d)) return 'other';
  }
  return bytes.length < LONGEST_METHOD ? 'more' : 'other';
}

function isPreface(bytes: Buffer, space: number): boolean {
  return space === 3 && bytes[0] === 0x50 && bytes[1] === 0x52 && bytes[2] === 0x49; // "PRI"
}
