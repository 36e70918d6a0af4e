// ReplayBody over a live body fed as a codec feeds it (http/body.ts), read as an upstream
// connection reads it.
import { describe, expect, it } from 'vitest';
import { type BodySink, LiveBody } from '../http/body.ts';
import { ReplayBody } from './replay-body.ts';

const flow = { stop() {}, start() {} };

/** Reads a body whole, as an attempt would. */
function reader(): BodySink & { readonly text: string; readonly ended: boolean } {
  let text = '';
  let ended = false;
  return {
    onBodyData(chunk: Buffer) {
      text += chunk.toString();
      return true;
    },
    onBodyEnd() {
      ended = true;
    },
    onBodyError() {},
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
  };
}

describe('ReplayBody', () => {
  it('hands out the live body while nobody has read it', () => {
    const live = new LiveBody(3, flow);
    const body = new ReplayBody(live, 100);
    expect(body.replayable).toBe(true);
    const first = body.next();
    expect(first).toBeDefined();
    expect(body.next()).toBe(first); // still unread: a failed connect leaves it so
  });

  it('replays the recorded bytes once the whole body has arrived within the bound', () => {
    const live = new LiveBody(-1, flow);
    const body = new ReplayBody(live, 100);
    const first = reader();
    body.next()?.read(first);
    live.push(Buffer.from('hello '));
    expect(body.replayable).toBe(false); // still arriving
    live.push(Buffer.from('world'));
    live.end(['x-checksum', '1']);
    expect(first.text).toBe('hello world');
    expect(first.ended).toBe(true);
    expect(body.replayable).toBe(true);
    const again = reader();
    const copy = body.next();
    copy?.read(again);
    expect(again.text).toBe('hello world');
    expect(again.ended).toBe(true);
    expect(copy?.trailers).toEqual(['x-checksum', '1']);
  });

  it('gives up on a body larger than the bound', () => {
    const live = new LiveBody(120, flow);
    const body = new ReplayBody(live, 100);
    body.next()?.read(reader());
    live.push(Buffer.from('x'.repeat(60)));
    live.push(Buffer.from('y'.repeat(60)));
    live.end([]);
    expect(body.replayable).toBe(false);
    expect(body.next()).toBeUndefined();
  });

  it('keeps nothing when nothing may be replayed', () => {
    const live = new LiveBody(3, flow);
    const none = new ReplayBody(live, 0);
    none.next()?.read(reader());
    live.push(Buffer.from('abc'));
    live.end([]);
    expect(none.replayable).toBe(false);
    expect(none.next()).toBeUndefined();
  });

  it('delivers what arrived before the first read, and recorded it too', () => {
    const live = new LiveBody(5, flow);
    const body = new ReplayBody(live, 100);
    live.push(Buffer.from('early'));
    live.end([]);
    const first = reader();
    body.next()?.read(first);
    expect(first.text).toBe('early');
    expect(first.ended).toBe(true);
    const again = reader();
    body.next()?.read(again);
    expect(again.text).toBe('early');
  });
});
