// A response written straight to a socket that has left its HTTP/1.1 connection: an Upgrade
// or CONNECT request that is answered instead of switched (refused, or the upstream said
// something other than 101). The socket closes after the response.
import type { Socket } from 'node:net';
import type { Http1Request } from './server-request.ts';
import { Http1Response, type ResponseConnection } from './server-response.ts';
import { Outbox } from './write-batch.ts';

export function responseOnSocket(req: Http1Request, socket: Socket): Http1Response {
  const outbox = new Outbox(socket);
  const connection: ResponseConnection = {
    outbox,
    closing: true,
    touch() {},
    responseDone() {
      socket.off('close', onClose);
      outbox.onDrain = undefined;
      outbox.whenIdle(() => socket.destroySoon());
    },
    destroy() {
      outbox.discard();
      socket.destroy();
    },
  };
  const res = new Http1Response(connection, req);
  const onClose = () => res.closed();
  socket.once('close', onClose);
  outbox.onDrain = () => res.drained();
  return res;
}
