// Backpressure and slow consumers over real sockets: send() and the high-water mark, drained(), and the 'close' and
// 'drop' policies against a peer that stops reading — the server's buffer stays under maxBufferedBytes + one message.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { ReadyState, type SlowConsumerPolicy } from '../../src/connection/types.js';
import { Hub } from '../../src/hub.js';
import type { ServerOptions } from '../../src/server.js';
import { type ClockedServer, nextConnection, startClockedServer } from '../helpers/clocked-server.js';
import { within } from '../helpers/raw-peer.js';
import { StalledPeer } from '../helpers/stalled-peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MSG = 64 * KiB;
/** A 64 KiB payload gets a 10-byte header (64-bit length form). */
const FRAME = MSG + 10;
const CAP = 1 * MiB;

type Setup = ClockedServer;

const setup = (t: TestContext, options: ServerOptions): Promise<Setup> =>
  startClockedServer(t, { heartbeat: false, closeTimeout: 500, ...options });

async function stalled(t: TestContext, s: Setup): Promise<{ peer: StalledPeer; conn: Connection }> {
  const accepted = nextConnection(s.wss);
  const peer = await StalledPeer.open(s.port);
  t.after(() => peer.destroy());
  return { peer, conn: await accepted };
}

/** A 64 KiB message whose first 4 bytes are its sequence number. */
function numbered(seq: number): Buffer {
  const b = Buffer.alloc(MSG, seq & 0xff);
  b.writeUInt32BE(seq, 0);
  return b;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Sends and says whether the message was queued at all (send() is also false when merely above the high-water mark):
 * a refused message leaves the connection closing ('close') or adds nothing to what it holds ('drop').
 */
function queued(conn: Connection, data: Buffer): boolean {
  const before = conn.bufferedAmount;
  conn.send(data);
  return conn.readyState === ReadyState.Open && conn.bufferedAmount > before;
}

describe('send() and drained()', () => {
  it('send() returns false above highWaterMark; bufferedAmount grows; drained() resolves after the peer reads', async (t) => {
    const s = await setup(t, { highWaterMark: 64 * KiB, maxBufferedBytes: 256 * MiB });
    const { peer, conn } = await stalled(t, s);
    let sent = 0;
    let below = true;
    while (below && sent < 1_000) {
      below = conn.send(numbered(sent));
      sent++;
    }
    assert.equal(below, false, 'send() reported the high-water mark');
    assert.ok(conn.bufferedAmount > 64 * KiB, `bufferedAmount ${conn.bufferedAmount} above the high-water mark`);
    const drained = conn.drained();
    peer.resume();
    await within(drained, 10_000, 'drained()');
    assert.equal(conn.bufferedAmount, 0);
    await peer.waitFrames((f) => f.length === sent);
    assert.deepEqual(
      peer.frames.map((f) => f.payload.readUInt32BE(0)),
      Array.from({ length: sent }, (_, i) => i),
    );
    assert.equal(s.wss.stats.messagesOut, sent);
    assert.equal(s.wss.stats.bytesOut, sent * FRAME);
  });

  it('drained() resolves when only a few bytes (below the socket’s own high-water mark) were waiting', async (t) => {
    // Regression: drained() waited for the socket's 'drain' event, which node emits only after a write() returned
    // false; a small backlog that never crossed the socket's 16 KiB mark never produced one, and drained() hung.
    const s = await setup(t, { maxBufferedBytes: 256 * MiB });
    const { peer, conn } = await stalled(t, s);
    const small = Buffer.alloc(1 * KiB, 7);
    let sent = 0;
    // Fill the kernel's buffers with small writes, each accepted at once, until one has to wait in user space.
    while (conn.bufferedAmount === 0 && sent < 200_000) {
      conn.send(small);
      sent++;
    }
    assert.ok(conn.bufferedAmount > 0 && conn.bufferedAmount < 16 * KiB, `backlog ${conn.bufferedAmount}`);
    const drained = conn.drained();
    peer.resume();
    await within(drained, 10_000, 'drained() with a small backlog');
    assert.equal(conn.bufferedAmount, 0);
  });

  it('drained() rejects when the connection closes before the backlog drains', async (t) => {
    const s = await setup(t, { highWaterMark: 64 * KiB, maxBufferedBytes: 256 * MiB });
    const { peer, conn } = await stalled(t, s);
    // Sends outside a read are corked until the end of the tick, so fill until bytes still wait after a turn: then
    // the kernel's buffers are full too and the backlog cannot drain while the peer does not read.
    for (let i = 0; i < 100_000; i++) {
      if (conn.send(numbered(i))) continue;
      await turn();
      if (conn.bufferedAmount > 0) break;
    }
    assert.ok(conn.bufferedAmount > 0, 'a backlog the stalled peer cannot take');
    const drained = conn.drained();
    peer.destroy();
    await assert.rejects(within(drained, 5_000, 'drained() to reject'), { code: 'ERR_CLOSED' });
  });
});

/** Sends `total` bytes of 64 KiB messages in batches, yielding between them; records the largest backlog seen. */
async function flood(
  conn: Connection,
  total: number,
): Promise<{ attempts: number; accepted: number[]; maxBuffered: number }> {
  const attempts = Math.ceil(total / MSG);
  const accepted: number[] = [];
  let maxBuffered = 0;
  for (let seq = 0; seq < attempts; seq++) {
    if (queued(conn, numbered(seq))) accepted.push(seq);
    maxBuffered = Math.max(maxBuffered, conn.bufferedAmount);
    if (seq % 100 === 99) await turn();
  }
  return { attempts, accepted, maxBuffered };
}

describe('slow consumer policies (a peer that completes the handshake, then stops reading)', () => {
  it("'close' (default): 1008, the backlog stays under the cap, and the socket is terminated at the close timeout", async (t) => {
    const s = await setup(t, { maxBufferedBytes: CAP, highWaterMark: 256 * KiB });
    const { conn } = await stalled(t, s);
    let closed = false;
    conn.closed.then(() => {
      closed = true;
    });
    const r = await flood(conn, 200 * MiB);
    assert.ok(r.maxBuffered <= CAP + FRAME, `backlog peaked at ${r.maxBuffered} > ${CAP + FRAME}`);
    assert.equal(s.wss.stats.evicted, 1);
    assert.equal(s.wss.stats.dropped, 0);
    assert.ok(r.accepted.length < r.attempts, 'messages after the eviction are refused');
    assert.equal(conn.readyState, ReadyState.Closing);
    await turn();
    s.clock.advance(499);
    await turn();
    assert.equal(closed, false, 'not terminated before the close timeout');
    s.clock.advance(1);
    const info = await within(conn.closed, 5_000, 'termination at the close timeout');
    assert.equal(info.code, 1008);
    assert.equal(info.wasClean, false);
    assert.match(info.reason, /slow consumer/);
    assert.equal(s.wss.stats.protocolErrors, 0, 'a slow consumer is not a protocol error');
  });

  it("'close': a peer that reads again finds every accepted message whole, then the 1008 close frame", async (t) => {
    const s = await setup(t, { maxBufferedBytes: CAP, highWaterMark: 256 * KiB });
    const { peer, conn } = await stalled(t, s);
    const r = await flood(conn, 64 * MiB);
    assert.ok(r.maxBuffered <= CAP + FRAME);
    peer.resume();
    await peer.waitFrames((f) => f.at(-1)?.opcode === 0x8);
    const frames = peer.frames;
    const data = frames.slice(0, -1);
    assert.ok(data.every((f) => f.opcode === 0x2 && f.fin && f.payload.length === MSG));
    assert.deepEqual(
      data.map((f) => f.payload.readUInt32BE(0)),
      r.accepted,
    );
    assert.equal(frames.at(-1)!.payload.readUInt16BE(0), 1008);
    const info = await within(conn.closed, 5_000, 'the close after the peer read everything');
    assert.equal(info.code, 1008);
  });

  it("'drop': skips messages (counted in stats.dropped), keeps the backlog under the cap, delivers the rest in order", async (t) => {
    const s = await setup(t, { maxBufferedBytes: CAP, highWaterMark: 256 * KiB, onSlowConsumer: 'drop' });
    const { peer, conn } = await stalled(t, s);
    const r = await flood(conn, 200 * MiB);
    assert.ok(r.maxBuffered <= CAP + FRAME, `backlog peaked at ${r.maxBuffered} > ${CAP + FRAME}`);
    assert.equal(conn.readyState, ReadyState.Open, "'drop' keeps the connection");
    assert.equal(s.wss.stats.dropped, r.attempts - r.accepted.length);
    assert.ok(s.wss.stats.dropped > 3_000, `most of 200 MB dropped (${s.wss.stats.dropped})`);
    assert.equal(s.wss.stats.evicted, 0);
    assert.equal(s.wss.stats.messagesOut, r.accepted.length);
    assert.equal(s.wss.stats.bytesOut, r.accepted.length * FRAME);
    peer.resume();
    await peer.waitFrames((f) => f.length === r.accepted.length);
    assert.deepEqual(
      peer.frames.map((f) => f.payload.readUInt32BE(0)),
      r.accepted,
      'whole messages, in order, none duplicated',
    );
    // Once the peer reads again, sends are accepted again.
    assert.equal(queued(conn, numbered(1e6)), true);
  });
});

describe('hub fan-out with a stalled subscriber', () => {
  for (const policy of ['drop', 'close'] as const satisfies readonly SlowConsumerPolicy[]) {
    it(`'${policy}': the stalled peer's backlog stays under the cap while the others receive everything`, async (t) => {
      const s = await setup(t, { maxBufferedBytes: CAP, onSlowConsumer: policy });
      const hub = new Hub();
      s.wss.on('connection', (c) => hub.subscribe(c, 'feed'));
      const { conn: slow } = await stalled(t, s);
      const live = await Promise.all([0, 1].map(() => connect(`ws://127.0.0.1:${s.port}/`)));
      t.after(() => {
        for (const c of live) c.terminate();
      });
      const deadline = Date.now() + 5_000;
      while (hub.subscribers('feed') < 3) {
        assert.ok(Date.now() < deadline, 'three subscribers');
        await turn();
      }
      const counts = [0, 0];
      let waiter: (() => void) | null = null;
      let target = 0;
      live.forEach((c, i) => {
        c.on('message', (m) => {
          assert.equal(m.type, 'binary');
          assert.equal((m.data as Buffer).readUInt32BE(0), counts[i], `client ${i} in order`);
          counts[i]!++;
          if (waiter && counts.every((n) => n >= target)) waiter();
        });
      });
      const total = 100 * MiB;
      const n = total / MSG;
      const BATCH = 8; // 512 KiB: the live peers never come near the cap themselves
      let maxBuffered = 0;
      const rss0 = process.memoryUsage().rss;
      let rssMax = rss0;
      for (let seq = 0; seq < n; seq += BATCH) {
        for (let k = seq; k < seq + BATCH; k++) {
          hub.publish('feed', numbered(k));
          maxBuffered = Math.max(maxBuffered, slow.bufferedAmount);
        }
        target = seq + BATCH;
        if (!counts.every((c) => c >= target)) {
          await within(
            new Promise<void>((resolve) => {
              waiter = resolve;
            }),
            10_000,
            `live subscribers to reach ${target}`,
          );
          waiter = null;
        }
        if (seq % 256 === 0) rssMax = Math.max(rssMax, process.memoryUsage().rss);
      }
      assert.deepEqual(counts, [n, n], 'every live subscriber got every message');
      assert.ok(maxBuffered <= CAP + FRAME, `stalled backlog peaked at ${maxBuffered}`);
      assert.ok(
        rssMax - rss0 < 100 * MiB,
        `RSS grew by ${((rssMax - rss0) / MiB).toFixed(1)} MiB for 100 MiB published`,
      );
      assert.equal(hub.stats.framesEncoded, n, 'one framing per publish');
      if (policy === 'drop') {
        assert.ok(s.wss.stats.dropped > 0 && hub.stats.skipped === s.wss.stats.dropped);
        assert.equal(slow.readyState, ReadyState.Open);
      } else {
        assert.equal(s.wss.stats.evicted, 1);
        assert.notEqual(slow.readyState, ReadyState.Open);
      }
    });
  }
});

describe('sends held back behind an open writer() count toward backpressure', () => {
  it('send() turns false, bufferedAmount counts them, drained() waits for them, and no healthy peer is evicted', async (t) => {
    const s = await startClockedServer(t, { heartbeat: false, highWaterMark: 64 * KiB, maxBufferedBytes: 1 * MiB });
    const accepted = nextConnection(s.wss);
    const client = await connect(`ws://127.0.0.1:${s.port}/`);
    t.after(() => client.terminate());
    const conn = await accepted;
    const received: string[] = [];
    client.on('message', (m) => received.push(m.type === 'text' ? m.data : `binary ${m.data.length}`));
    const writer = conn.writer('binary');
    writer.write(Buffer.alloc(1000, 1));
    let queued = 0;
    // A well-behaved app: it sends until send() says to wait. The held-back bytes must say so long before the cap.
    while (conn.send(`m${queued}`.padEnd(1024, '.'))) queued++;
    queued++; // the send that returned false was queued too
    assert.ok(queued * 1024 <= 64 * KiB + 1024, `send() kept returning true for ${queued} held-back messages`);
    assert.ok(conn.bufferedAmount >= queued * 1024, `bufferedAmount ${conn.bufferedAmount} ignores held-back sends`);
    let drained = false;
    const waiting = conn.drained().then(() => {
      drained = true;
    });
    await turn();
    assert.equal(drained, false, 'drained() resolved while sends were still held back');
    writer.end(Buffer.alloc(1000, 2));
    await within(waiting, 5_000, 'drained()');
    await within(
      (async () => {
        while (received.length < queued + 1) await turn();
      })(),
      5_000,
      'every message at the client',
    );
    assert.equal(received[0], 'binary 2000');
    assert.deepEqual(
      received.slice(1).map((m) => m.slice(0, m.indexOf('.'))),
      Array.from({ length: queued }, (_, i) => `m${i}`),
    );
    assert.equal(conn.readyState, ReadyState.Open);
    assert.equal(s.wss.stats.evicted, 0);
  });
});
