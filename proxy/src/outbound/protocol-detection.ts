// A new connection's first bytes decide who serves it: HTTP/1.1 (the sidecar's codec),
// HTTP/2 with prior knowledge (as gRPC clients speak it), or — on a connection redirected by
// interception — anything else, piped on unchanged. Reads the socket only until the
// classifier decides, then hands it over paused, with the bytes read (nothing is put back
// on the stream: the codecs read the socket's handle directly and take `seen` first).
import type { Socket } from 'node:net';
import { isH2Preface } from '../http/h2-server.ts';
import { detectHttp1 } from './detect-http.ts';

export type Protocol = 'http1' | 'h2' | 'other';

/** What the first bytes say; 'more' until they say enough. */
export type Classifier = (seen: Buffer) => Protocol | 'more';

/** A connection made to the listener on purpose: HTTP/2 by its preface, else HTTP/1.1. */
export const classifyDirect: Classifier = (seen) => {
  const preface = isH2Preface(seen);
  return preface === 'more' ? 'more' : preface === 'yes' ? 'h2' : 'http1';
};

/** A redirected connection: HTTP/1.x, HTTP/2 prior knowledge, or another protocol. */
export const classifyRedirected: Classifier = (seen) => {
  const detected = detectHttp1(seen);
  if (detected === 'more') return 'more';
  return detected === 'http' ? 'http1' : detected === 'http2' ? 'h2' : 'other';
};

/**
 * Reads `socket` until `classify` decides, then calls `done` with the protocol and the bytes
 * read. 'timeout' when nothing decided within `timeoutMs`; 'closed' when the client left
 * (the socket is destroyed then).
 */
export function detectProtocol(
  socket: Socket,
  classify: Classifier,
  timeoutMs: number,
  done: (protocol: Protocol | 'timeout' | 'closed', seen: Buffer | undefined) => void,
): void {
  let seen: Buffer | undefined;
  let decided = false;
  const decide = (protocol: Protocol | 'timeout' | 'closed') => {
    if (decided) return;
    decided = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.pause();
    if (protocol === 'closed') socket.destroy();
    done(protocol, seen);
  };
  const onData = (chunk: Buffer) => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const protocol = classify(seen);
    if (protocol !== 'more') decide(protocol);
  };
  const onEnd = () => decide('closed');
  const onError = () => decide('closed');
  const timer = setTimeout(() => decide('timeout'), timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.on('error', onError);
}
