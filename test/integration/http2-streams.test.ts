// The life of a WebSocket on an HTTP/2 stream, from a hand-written node:http2 client: closes end the stream and
// never the session (END_STREAM when orderly, RST_STREAM CANCEL when not: RFC 8441 §5), a peer's reset is a 1006,
// the heartbeat and shutdown work per stream, and HTTP/2 flow control is what a slow reader's backpressure looks like.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type ClientHttp2Session, type ClientHttp2Stream, constants } from 'node:http2';
import { describe, it, type TestContext } from 'node:test';
import { type ServerOptions, WebSocketServer } from '../../src/server.js';
import { nextConnection } from '../helpers/clocked-server.js';
import { extendedConnect, type H2Server, openH2Peer, openSession, startH2Server } from '../helpers/h2.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { encodeFrame, Op, waitUntil, within } from '../helpers/raw-peer.js';

interface Streams {
  h2: H2Server;
  wss: WebSocketServer;
  clock: ManualClock;
}

/** A server whose connections echo, on an h2 TLS server; its timers on a ManualClock. */
async function streamsServer(t: TestContext, options: ServerOptions = {}): Promise<Streams> {
  const clock = new ManualClock();
  const wss = new WebSocketServer({ heartbeat: false, clock, ...options });
  wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
  const h2 = await startH2Server(t, (server) => wss.attach(server, { path: '/echo' }));
  t.after(async () => {
    const closing = wss.close();
    clock.advance(60_000);
    await closing;
  });
  return { h2, wss, clock };
}

/** Opens a peer and returns it with the server's side of it; `answerEnd` as in RawPeer.over. */
async function pair(t: TestContext, s: Streams, session: ClientHttp2Session, answerEnd = true) {
  const conn = nextConnection(s.wss);
  const peer = await openH2Peer(t, session, '/echo', {}, answerEnd);
  return { peer, conn: await conn };
}

describe('closing a WebSocket closes its stream, never the session', () => {
  it('a close from the server: close frames cross, then END_STREAM both ways (no reset)', async (t) => {
    const s = await streamsServer(t);
    const session = await openSession(t, s.h2.origin);
    const { peer, conn } = await pair(t, s, session);
    const other = await openH2Peer(t, session);
    const done = conn.close(1000, 'bye');
    const f = await peer.nextFrame();
    assert.equal(f.opcode, Op.Close);
    await peer.sendClose(1000);
    await peer.expectTcpClose();
    assert.equal(await peer.closed, 0);
    assert.deepEqual(await done, { code: 1000, reason: '', wasClean: true });
    assert.equal(session.closed, false);
    await other.sendText('still here');
    await other.expectEcho('still here');
  });

  it('terminate() resets only its stream, with CANCEL', async (t) => {
    const s = await streamsServer(t);
    const session = await openSession(t, s.h2.origin);
    const { peer, conn } = await pair(t, s, session, false);
    const other = await openH2Peer(t, session);
    conn.terminate();
    assert.equal(await within(peer.closed, 5_000, 'the reset'), constants.NGHTTP2_CANCEL);
    assert.equal((await conn.closed).code, 1006);
    await other.sendText('unaffected');
    await other.expectEcho('unaffected');
  });

  // node's destroy() resets at once; close(code) half-closes first, then resets.
  const resets: Array<[string, (stream: ClientHttp2Stream) => void, boolean]> = [
    ['NO_ERROR', (stream) => stream.destroy(), false],
    ['INTERNAL_ERROR', (stream) => stream.destroy(new Error('the peer gave up')), true],
    ['CANCEL', (stream) => stream.close(constants.NGHTTP2_CANCEL), false],
  ];
  for (const [name, reset, isError] of resets) {
    it(`a peer's RST_STREAM (${name}) in the middle of a message is a 1006; the session's other WebSockets go on`, async (t) => {
      const s = await streamsServer(t);
      const session = await openSession(t, s.h2.origin);
      const { peer, conn } = await pair(t, s, session);
      const errors: Error[] = [];
      conn.on('error', (e) => errors.push(e));
      const other = await openH2Peer(t, session);
      // A 1000-byte text frame of which 10 bytes arrive.
      const frame = encodeFrame({ opcode: Op.Text, payload: 'x'.repeat(1000) });
      await peer.sendRaw(frame.subarray(0, 16));
      reset(peer.stream);
      assert.deepEqual(await within(conn.closed, 5_000, 'the server connection to close'), {
        code: 1006,
        reason: '',
        wasClean: false,
      });
      // A reset with an error code is an error on the stream; NO_ERROR and CANCEL are not.
      assert.equal(errors.length, isError ? 1 : 0, errors.join());
      assert.equal(s.wss.clients.size, 1);
      await other.sendText('carry on');
      await other.expectEcho('carry on');
    });
  }
});

describe('heartbeat and shutdown per stream', () => {
  it('a silent peer is pinged, then reset with CANCEL; the session stays', async (t) => {
    const s = await streamsServer(t, { heartbeat: { interval: 1000, timeout: 1000 } });
    const session = await openSession(t, s.h2.origin);
    const { peer, conn } = await pair(t, s, session, false);
    s.clock.advance(1000);
    await peer.expectPing();
    s.clock.advance(1000);
    assert.equal(await within(peer.closed, 5_000, 'the reset'), constants.NGHTTP2_CANCEL);
    assert.equal((await conn.closed).code, 1006);
    assert.equal(s.wss.stats.heartbeatKills, 1);
    assert.equal(session.closed, false);
  });

  it('close(): 1001 on every stream, 503 for a CONNECT meanwhile, the sessions left to their server', async (t) => {
    const s = await streamsServer(t);
    const session = await openSession(t, s.h2.origin);
    const peers = await Promise.all([1, 2, 3].map(() => openH2Peer(t, session)));
    const closing = s.wss.close();
    const late = await extendedConnect(session, '/echo');
    assert.equal(late.status, 503);
    for (const p of peers) {
      const f = await p.nextFrame();
      assert.equal(f.opcode, Op.Close);
      assert.equal(f.payload.readUInt16BE(0), 1001);
      await p.sendClose(1001);
    }
    await within(closing, 5_000, 'the shutdown');
    for (const p of peers) assert.equal(await p.closed, 0);
    assert.equal(session.closed, false);
    const page = session.request({ ':path': '/' });
    const [headers] = (await within(once(page, 'response'), 5_000, 'a page after the shutdown')) as [
      Record<string, unknown>,
    ];
    assert.equal(headers[':status'], 200);
    page.resume();
  });
});

describe('HTTP/2 flow control is the backpressure', () => {
  const CHUNK = 16 * 1024;

  /** Pauses the client's stream and waits until node stops granting it window (its read buffer is full). */
  async function stopReading(stream: ClientHttp2Stream): Promise<void> {
    stream.pause();
    await waitUntil(() => stream.readableLength >= stream.readableHighWaterMark, 'the client’s read buffer to fill');
  }

  it('a reader that stops: bytes wait in the send queue, send() says so, the rest of the session flows', async (t) => {
    const s = await streamsServer(t, { highWaterMark: 64 * 1024, maxBufferedBytes: 1 << 20, onSlowConsumer: 'drop' });
    const session = await openSession(t, s.h2.origin);
    const { peer, conn } = await pair(t, s, session);
    const other = await openH2Peer(t, session);
    peer.stream.pause();
    const total = 40;
    const message = (i: number): Buffer => Buffer.alloc(CHUNK, i);
    for (let i = 0; i < 8; i++) conn.send(message(i));
    await stopReading(peer.stream);
    // What the peer's window and read buffer held has left; the rest waits on WINDOW_UPDATEs that do not come.
    for (let i = 8; i < total; i++) conn.send(message(i));
    const drained = conn.drained();
    let isDrained = false;
    drained.then(() => {
      isDrained = true;
    });
    await other.sendText('the connection window is not starved');
    await other.expectEcho('the connection window is not starved');
    assert.equal(isDrained, false, 'nothing drains while the peer does not read');
    assert.ok(conn.bufferedAmount >= (total - 8) * CHUNK - 64 * 1024, `buffered: ${conn.bufferedAmount}`);
    assert.equal(conn.send(Buffer.alloc(10)), false, 'above the high-water mark');
    const before = s.wss.stats.dropped;
    assert.equal(conn.send(Buffer.alloc(1 << 20)), false);
    assert.equal(s.wss.stats.dropped, before + 1, "above maxBufferedBytes the 'drop' policy drops");

    peer.stream.resume();
    await within(drained, 5_000, 'the queue to drain once the peer reads');
    for (let i = 0; i < total; i++) await peer.expectEcho(message(i), 'binary');
    const last = await peer.nextMessage();
    assert.equal(last.data.length, 10, 'the small send queued above the mark came last; the dropped one never');
  });

  it('a reader that stays stopped is a slow consumer: 1008, and a reset with CANCEL once the close timer ends', async (t) => {
    const s = await streamsServer(t, { highWaterMark: 64 * 1024, maxBufferedBytes: 256 * 1024, closeTimeout: 1000 });
    const session = await openSession(t, s.h2.origin);
    const { peer, conn } = await pair(t, s, session, false);
    const reader = await pair(t, s, session);
    peer.stream.pause();
    // One 16 KiB message per turn to each: the reading peer never fills its queue; the stopped one does, by flow control.
    let sent = 0;
    while (conn.readyState === 1 && sent < 200) {
      conn.send(Buffer.alloc(CHUNK));
      reader.conn.send(Buffer.alloc(CHUNK));
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.notEqual(conn.readyState, 1, 'evicted');
    assert.ok(sent > 256 / 16, `evicted after ${sent} messages: more than the cap alone holds`);
    assert.equal(s.wss.stats.evicted, 1);
    assert.equal(reader.conn.readyState, 1, 'the peer that reads is never evicted');
    s.clock.advance(1000);
    assert.equal(await within(peer.closed, 5_000, 'the reset'), constants.NGHTTP2_CANCEL);
    assert.equal((await conn.closed).code, 1008);
    for (let i = 0; i < sent; i++) await reader.peer.nextMessage();
  });
});
