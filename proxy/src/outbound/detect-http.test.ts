import { describe, expect, it } from 'vitest';
import { detectHttp1 } from './detect-http.ts';

describe('detectHttp1', () => {
  it('recognises HTTP/1.x request lines by their method', () => {
    for (const line of ['GET / HTTP/1.1\r\n', 'POST /x HTTP/1.1', 'OPTIONS * HTTP/1.1', 'DELETE /', 'M-SEARCH *', 'UNSUBSCRIBE /']) {
      expect(detectHttp1(Buffer.from(line)), line).toBe('http');
    }
  });

  it('tells the HTTP/2 prior-knowledge preface apart', () => {
    expect(detectHttp1(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'))).toBe('http2');
  });

  it('passes other protocols on', () => {
    const samples = [
      Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), // TLS ClientHello
      Buffer.from([0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f]), // PostgreSQL SSLRequest
      Buffer.from('*1\r\n$4\r\nPING\r\n'),
      Buffer.from('PING\r\n'),
      Buffer.from('get / HTTP/1.1'),
      Buffer.from(' GET /'),
      Buffer.from('GE /'),
      Buffer.from('ABCDEFGHIJKLMNOP'),
    ];
    for (const bytes of samples) expect(detectHttp1(bytes), JSON.stringify(bytes.toString('latin1'))).toBe('other');
  });

  it('asks for more bytes while a method may still be arriving', () => {
    expect(detectHttp1(Buffer.from('GE'))).toBe('more');
    expect(detectHttp1(Buffer.from('PROPFIND'))).toBe('more');
    expect(detectHttp1(Buffer.alloc(0))).toBe('more');
  });
});
