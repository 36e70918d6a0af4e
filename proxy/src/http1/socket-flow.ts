// Stopping and restarting reads on a socket whose handle a parser consumes (llhttp.ts): the
// stream's own pause() does not reach the handle then (net.Socket stops the handle only for
// the bytes it reads itself), so backpressure is applied to the handle, with the `reading`
// flag net.Socket keeps on it left true to what the handle does.
import type { Socket } from 'node:net';

interface StreamHandle {
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}

function handleOf(socket: Socket): StreamHandle | null | undefined {
  return (socket as unknown as { _handle?: StreamHandle | null })._handle;
}

export function stopReading(socket: Socket): void {
  const handle = handleOf(socket);
  if (!handle || handle.reading === false) return;
  handle.reading = false;
  handle.readStop();
}

export function startReading(socket: Socket): void {
  const handle = handleOf(socket);
  if (!handle || handle.reading === true) return;
  handle.reading = true;
  handle.readStart();
}
