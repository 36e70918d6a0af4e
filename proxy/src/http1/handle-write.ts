// The seam for writing to a socket's native handle (TCP or TLS) without the socket's
// Writable stream, as reads already skip it (llhttp.ts): one WriteWrap per write, handed to
// the handle as node:net does itself, and nothing else. The Writable path costs a request
// two trips through its state machine per write, a process.nextTick, and — on TLS, where
// every write completes asynchronously — a chain of callbacks on completion; measured on a
// sidecar pair, skipping it saved about 4.5 % of the CPU per request (bench/RESULTS.md).
//
// The one rule that comes with it: a TLS handle takes one write at a time (a second one
// while the first is unfinished aborts the process), so whoever writes here must wait for
// `written` before writing again, and must not let the socket's stream write meanwhile
// (write-batch.ts's Outbox does both).
//
// The binding is undocumented; Node 24 is pinned (the `node` devDependency) and
// checkHandleWrites() fails startup with a clear error if it ever changes shape.
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

/** Who hears that an asynchronous write finished: `status` is 0 or a negative errno. */
export interface WriteOwner {
  written(status: number): void;
}

interface WriteRequest {
  oncomplete: (this: WriteRequest, status: number) => void;
  owner: WriteOwner | undefined;
  /** What is being written, kept alive until the handle is done with it. */
  data: string | Buffer | readonly (string | Buffer)[] | undefined;
}

interface StreamHandle {
  writeLatin1String(req: WriteRequest, data: string): number;
  writeBuffer(req: WriteRequest, data: Buffer): number;
  /** `chunks` alternates data and encoding ('latin1' or 'buffer') unless all are Buffers. */
  writev(req: WriteRequest, chunks: readonly (string | Buffer)[], allBuffers: boolean): number;
}

interface StreamWrapBinding {
  readonly WriteWrap: new () => WriteRequest;
  readonly streamBaseState: Int32Array;
  readonly kLastWriteWasAsync: number;
}

const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');

function completed(this: WriteRequest, status: number): void {
  const owner = this.owner as WriteOwner;
  this.owner = undefined;
  this.data = undefined;
  owner.written(status);
}

/** What write() did: the handle took it all, it finishes later (`owner.written`), or it failed. */
export const WRITTEN = 0;
export const PENDING = 1;

/**
 * Writes `data` (latin1 text, bytes, or a list of both) to the socket's handle. Returns
 * WRITTEN, PENDING (owner.written is called once it finishes), or throws nothing: a failed
 * write returns an Error (carrying the errno's code) for the caller to destroy the socket with.
 */
export function writeToHandle(socket: Socket, data: string | Buffer | readonly (string | Buffer)[], owner: WriteOwner): number | Error {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (!handle) return socketError('EPIPE', 'the socket has no handle (closed)');
  const { WriteWrap, streamBaseState, kLastWriteWasAsync } = binding as StreamWrapBinding;
  const req = new WriteWrap();
  req.oncomplete = completed;
  req.owner = owner;
  req.data = undefined;
  let err: number;
  if (typeof data === 'string') err = handle.writeLatin1String(req, data);
  else if (Buffer.isBuffer(data)) err = handle.writeBuffer(req, data);
  else err = handle.writev(req, withEncodings(data), false);
  if (err !== 0) return writeError(err);
  if (streamBaseState[kLastWriteWasAsync] === 0) return WRITTEN;
  req.data = data;
  return PENDING;
}

function withEncodings(parts: readonly (string | Buffer)[]): (string | Buffer)[] {
  const chunks: (string | Buffer)[] = new Array(parts.length * 2);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string | Buffer;
    chunks[i * 2] = part;
    chunks[i * 2 + 1] = typeof part === 'string' ? 'latin1' : 'buffer';
  }
  return chunks;
}

function socketError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The error a socket is destroyed with when a write to it failed with `errno` (negative). */
export function writeError(errno: number): Error {
  const code = getSystemErrorName(errno);
  return Object.assign(socketError(code, `write failed: ${code}`), { errno });
}

/** Throws if this Node's stream_wrap binding is not the one this file was written against. */
export function checkHandleWrites(): void {
  const { WriteWrap, streamBaseState, kLastWriteWasAsync } = binding;
  if (typeof WriteWrap !== 'function' || !(streamBaseState instanceof Int32Array) || typeof kLastWriteWasAsync !== 'number')
    throw new Error(`this Node.js (${process.version}) has a stream binding the sidecar does not know; use Node 24`);
}
