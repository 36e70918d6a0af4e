// TCP connection metrics per listener direction: opened, closed, open now, bytes received
// and sent. Connections are watched with shared listeners (no closure per connection);
// bytes of open connections are read at collection time so long keep-alive connections
// count before they close. These are the listeners' connections (HTTP, and on the inbound
// port the raw TCP under TLS); opaque TCP proxying (issue 4) counts its own through watch().
import type { Server, Socket } from 'node:net';
import type { Direction } from './request-record.ts';

export interface TcpTotals {
  readonly direction: Direction;
  readonly opened: number;
  readonly closed: number;
  readonly open: number;
  readonly receivedBytes: number;
  readonly sentBytes: number;
}

class DirectionStats {
  readonly direction: Direction;
  opened = 0;
  closed = 0;
  closedReceived = 0;
  closedSent = 0;
  readonly open = new Set<Socket>();
  sent: TcpTotals | undefined;

  constructor(direction: Direction) {
    this.direction = direction;
  }
}

export class TcpMetrics {
  readonly #stats = { inbound: new DirectionStats('inbound'), outbound: new DirectionStats('outbound') };

  /** Counts the connections a listener accepts. */
  watch(server: Server, direction: Direction): void {
    const stats = this.#stats[direction];
    const onClose = function (this: Socket) {
      stats.open.delete(this);
      stats.closed += 1;
      stats.closedReceived += this.bytesRead;
      stats.closedSent += this.bytesWritten;
    };
    server.on('connection', (socket: Socket) => {
      stats.opened += 1;
      stats.open.add(socket);
      socket.once('close', onClose);
    });
  }

  totals(): TcpTotals[] {
    return [this.#totals(this.#stats.inbound), this.#totals(this.#stats.outbound)];
  }

  /** Totals minus what the previous call returned; only directions that changed. */
  takeDeltas(): TcpTotals[] {
    const out: TcpTotals[] = [];
    for (const stats of [this.#stats.inbound, this.#stats.outbound]) {
      const now = this.#totals(stats);
      const before = stats.sent;
      stats.sent = now;
      const delta = {
        direction: stats.direction,
        opened: now.opened - (before?.opened ?? 0),
        closed: now.closed - (before?.closed ?? 0),
        open: now.open,
        receivedBytes: now.receivedBytes - (before?.receivedBytes ?? 0),
        sentBytes: now.sentBytes - (before?.sentBytes ?? 0),
      };
      if (delta.opened || delta.closed || delta.receivedBytes || delta.sentBytes) out.push(delta);
    }
    return out;
  }

  #totals(stats: DirectionStats): TcpTotals {
    let received = stats.closedReceived;
    let sent = stats.closedSent;
    for (const socket of stats.open) {
      received += socket.bytesRead;
      sent += socket.bytesWritten;
    }
    return {
      direction: stats.direction,
      opened: stats.opened,
      closed: stats.closed,
      open: stats.open.size,
      receivedBytes: received,
      sentBytes: sent,
    };
  }
}
