// History and recovery (src/history.ts, src/adapters/redis-history.ts, Hub.publishRecorded/recover): a client that
// reconnects with the last offset it saw gets every message sent while it was away, on the memory store and on Redis
// Streams across nodes; an offset older than what is kept reads as a gap.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { RedisAdapter } from '../../src/adapters/redis.js';
import { redisHistory } from '../../src/adapters/redis-history.js';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { type HistoryStore, initialOffset, memoryHistory } from '../../src/history.js';
import { Hub } from '../../src/hub.js';
import { WebSocketServer } from '../../src/server.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';

const skip = skipWithoutRedis;

interface Event {
  offset: number;
  text: string;
}

/** A node whose clients join `topic` with `?since=N`: subscribe first, then recover, like the chat does. */
async function recoveringNode(t: TestContext, history: HistoryStore, redisUrl?: string) {
  const hub = new Hub({ history, ...(redisUrl && { adapter: new RedisAdapter({ url: redisUrl }) }) });
  const wss = new WebSocketServer({ heartbeat: false });
  wss.on('connection', (conn, req) => {
    const params = new URL(req.url ?? '/', 'http://x').searchParams;
    const since = params.get('since');
    hub.subscribe(conn, 'room');
    if (since === null) return;
    hub.recover('room', Number(since)).then(
      (r) => {
        for (const e of r.messages) conn.send(format(e.offset, e.msg.data.toString()));
        conn.send(JSON.stringify({ recovered: r.messages.length, gap: r.gap }));
      },
      (err: Error) => conn.send(JSON.stringify({ error: err.message })),
    );
  });
  const { port } = await wss.listen(0, '127.0.0.1');
  t.after(async () => {
    await wss.close();
    await hub.close();
  });
  await hub.ready();
  return { hub, url: `ws://127.0.0.1:${port}/` };
}

const format = (offset: number, text: string): string => JSON.stringify({ offset, text });
const say = (hub: Hub, text: string) =>
  hub.publishRecorded('room', text, { format: (offset, msg) => format(offset, msg.data.toString()) });

/** A browser-like client: keeps the highest contiguous offset, drops repeats, and says when recovery is done. */
async function browser(url: string) {
  const conn: Connection = await connect(url);
  const events: Event[] = [];
  let recovery: { recovered: number; gap: boolean } | null = null;
  conn.on('message', (msg) => {
    const value = JSON.parse(String(msg.data)) as Event & { recovered?: number; gap?: boolean };
    if (value.recovered !== undefined) recovery = { recovered: value.recovered, gap: value.gap ?? false };
    else if (!events.some((e) => e.offset === value.offset)) events.push(value);
  });
  return {
    conn,
    events,
    recovery: () => recovery,
    sorted: () => [...events].sort((a, b) => a.offset - b.offset),
  };
}

describe('history and recovery', () => {
  it('memory store: consecutive offsets, trimmed by count and age, gaps reported', () => {
    let now = 1_000_000;
    const h = memoryHistory({ maxCount: 3, maxAgeMs: 1000, now: () => now });
    const msg = (s: string) => ({ type: 'text' as const, data: Buffer.from(s) });
    const first = h.append('t', msg('a'));
    assert.equal(first, initialOffset(now));
    assert.equal(h.append('t', msg('b')), first + 1);
    assert.equal(h.append('t', msg('c')), first + 2);
    assert.equal(h.append('other', msg('x')), initialOffset(now));
    let r = h.since('t', first);
    assert.deepEqual(
      r.messages.map((e) => e.msg.data.toString()),
      ['b', 'c'],
    );
    assert.equal(r.gap, false);
    assert.equal(r.last, first + 2);
    assert.deepEqual(h.since('t', first + 2), { messages: [], gap: false, last: first + 2 });
    h.append('t', msg('d')); // count trim: 'a' goes
    r = h.since('t', first - 1);
    assert.equal(r.gap, true, 'offset before the first message');
    r = h.since('t', first);
    assert.equal(r.gap, false, 'the message after `since` is still kept');
    h.append('t', msg('e'));
    r = h.since('t', first);
    assert.equal(r.gap, true, "'b' was trimmed");
    assert.deepEqual(
      r.messages.map((e) => e.msg.data.toString()),
      ['c', 'd', 'e'],
    );
    now += 1001; // age trim: all gone
    r = h.since('t', first + 3);
    assert.deepEqual(r.messages, []);
    assert.equal(r.gap, true);
    assert.equal(h.since('t', first + 4).gap, false, 'nothing missed by a client that saw the last one');
    assert.equal(h.since('t', first + 99).gap, true, 'an offset from the future: a forgotten history');
    assert.equal(h.since('nope', 5).gap, true);
    assert.deepEqual(h.since('nope'), { messages: [], gap: false, last: null });
    assert.equal(h.since('t').messages.length, 0);
    assert.throws(() => memoryHistory({ maxCount: 0 }), RangeError);
  });

  it('memory store: a reconnecting client gets every message sent while it was away', async (t) => {
    const node = await recoveringNode(t, memoryHistory({ maxCount: 100 }));
    const c1 = await browser(node.url);
    await waitFor('subscribed', () => node.hub.subscribers('room') === 1);
    for (let i = 0; i < 10; i++) await say(node.hub, `m${i}`);
    await waitFor('10 messages', () => c1.events.length === 10);
    const last = c1.sorted().at(-1)!.offset;
    await c1.conn.close();
    await waitFor('gone', () => node.hub.subscribers('room') === 0);
    for (let i = 10; i < 25; i++) await say(node.hub, `m${i}`); // while away
    const c2 = await browser(`${node.url}?since=${last}`);
    await waitFor('recovered', () => c2.recovery() !== null);
    for (let i = 25; i < 30; i++) await say(node.hub, `m${i}`); // live again
    await waitFor('all 20', () => c2.events.length === 20);
    assert.deepEqual(c2.recovery(), { recovered: 15, gap: false });
    assert.deepEqual(
      c2.sorted().map((e) => e.text),
      Array.from({ length: 20 }, (_, i) => `m${i + 10}`),
    );
    assert.deepEqual(
      c2.sorted().map((e) => e.offset - last),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('memory store: an offset older than what is kept is a gap', async (t) => {
    const node = await recoveringNode(t, memoryHistory({ maxCount: 5 }));
    const { offset: first } = await say(node.hub, 'm0');
    for (let i = 1; i < 20; i++) await say(node.hub, `m${i}`);
    const c = await browser(`${node.url}?since=${first}`);
    await waitFor('recovered', () => c.recovery() !== null);
    assert.deepEqual(c.recovery(), { recovered: 5, gap: true });
    assert.deepEqual(
      c.sorted().map((e) => e.text),
      ['m15', 'm16', 'm17', 'm18', 'm19'],
    );
    await assert.rejects(new Hub().recover('room', 1), TypeError);
    await assert.rejects(new Hub().publishRecorded('room', 'x'), TypeError);
  });

  describe('on Redis Streams', { skip }, () => {
    it('a client that moves to another node gets every message sent on any node while it was away', async (t) => {
      const redis = await startRedisServer(t);
      const a = await recoveringNode(t, redisHistory({ url: redis.url, maxCount: 100 }), redis.url);
      const b = await recoveringNode(t, redisHistory({ url: redis.url, maxCount: 100 }), redis.url);
      const c1 = await browser(a.url);
      const watcher = await browser(b.url);
      await waitForSubscribers(redis, 'switchboard:room', 2);
      for (let i = 0; i < 10; i++) await say(i % 2 ? a.hub : b.hub, `m${i}`);
      await waitFor('10 messages', () => c1.events.length === 10);
      const last = c1.sorted().at(-1)!.offset;
      await c1.conn.close();
      for (let i = 10; i < 30; i++) await say(i % 2 ? a.hub : b.hub, `m${i}`);
      // Offsets are shared by both nodes: consecutive whoever publishes.
      await waitFor('watcher has 30', () => watcher.events.length === 30);
      assert.deepEqual(
        watcher.sorted().map((e) => e.offset - watcher.sorted()[0]!.offset),
        Array.from({ length: 30 }, (_, i) => i),
      );

      const c2 = await browser(`${b.url}?since=${last}`);
      await waitFor('recovered', () => c2.recovery() !== null);
      await say(a.hub, 'm30');
      await waitFor('all 21', () => c2.events.length === 21);
      assert.deepEqual(c2.recovery(), { recovered: 20, gap: false });
      assert.deepEqual(
        c2.sorted().map((e) => e.text),
        Array.from({ length: 21 }, (_, i) => `m${i + 10}`),
      );
      // Binary data survives the stream.
      const bytes = Buffer.from([0, 255, 13, 10, 0x80, 1]);
      const { offset } = await a.hub.publishRecorded('bin', bytes);
      const r = await b.hub.recover('bin', offset - 1);
      assert.equal(r.messages.length, 1);
      assert.equal(r.messages[0]!.msg.type, 'binary');
      assert.ok(r.messages[0]!.msg.data.equals(bytes));
    });

    it('reports a gap when trimmed by count or age, or when Redis lost the history', async (t) => {
      const redis = await startRedisServer(t);
      const history = redisHistory({ url: redis.url, maxCount: 5, maxAgeMs: 60_000 });
      await history.ready();
      const hub = new Hub({ history });
      t.after(() => hub.close());
      const { offset: first } = await hub.publishRecorded('t', 'm0');
      for (let i = 1; i < 300; i++) await hub.publishRecorded('t', `m${i}`);
      let r = await hub.recover('t', first);
      assert.equal(r.gap, true);
      assert.equal(r.messages.length, 5);
      assert.equal(r.messages[0]!.msg.data.toString(), 'm295');
      assert.equal(r.last, first + 299);
      r = await hub.recover('t', first + 294);
      assert.equal(r.gap, false);
      assert.equal(r.messages.length, 5);

      const short = redisHistory({ url: redis.url, maxCount: 50, maxAgeMs: 150, keyPrefix: 'short:' });
      t.after(() => short.close());
      await short.ready();
      const o = await short.append('t', { type: 'text', data: Buffer.from('soon old') });
      assert.equal((await short.since('t', o - 1)).gap, false);
      await waitFor('aged out', async () => (await short.since('t', o - 1)).gap, 5_000);

      // Redis restarted without persistence: offsets go on increasing, and the old offset is a gap.
      await redis.restart();
      await waitFor('history client back', async () => {
        try {
          await hub.publishRecorded('t', 'after restart');
          return true;
        } catch {
          return false;
        }
      });
      r = await hub.recover('t', first + 299);
      assert.equal(r.gap, true);
      assert.ok(r.last! > first + 299, 'offsets keep increasing across the reset');
      assert.deepEqual(
        r.messages.map((e) => e.msg.data.toString()),
        ['after restart'],
      );
    });
  });
});
