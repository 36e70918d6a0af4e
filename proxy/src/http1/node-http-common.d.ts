// Types for the part of Node's `_http_common` built-in that http1/llhttp.ts uses: the binding
// to llhttp that node:http itself parses with. Undocumented; pinned Node 24 (see llhttp.ts).
declare module 'node:_http_common' {
  export class HTTPParser {
    static readonly REQUEST: 1;
    static readonly RESPONSE: 2;
    static readonly kOnMessageBegin: 0;
    static readonly kOnHeaders: 1;
    static readonly kOnHeadersComplete: 2;
    static readonly kOnBody: 3;
    static readonly kOnMessageComplete: 4;
    static readonly kOnExecute: 5;
    static readonly kLenientNone: 0;
    [index: number]: unknown;
    initialize(type: 1 | 2, resource: object, maxHeaderSize?: number, lenient?: number): void;
    execute(data: Buffer): number | ParseError;
    finish(): ParseError | undefined;
    consume(handle: object): void;
    unconsume(): void;
    getCurrentBuffer(): Buffer;
    pause(): void;
    resume(): void;
    close(): void;
    free(): void;
    remove(): void;
  }
  export interface ParseError extends Error {
    readonly code: string;
    readonly reason: string;
    readonly bytesParsed: number;
  }
  export const methods: readonly string[];
}
