// Redis faults (src/adapters/redis.ts): unreachable or restarted Redis never stops local delivery nor crashes a node;
// nodes reconnect with backoff, re-subscribe, flush their bounded outage buffer in order, and count the outage. The
// back-off runs on a ManualClock where the outage is a proxy's; a real restart is timed by the real clock.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { RedisAdapter, redisDownChannel, redisUpChannel } from '../../src/adapters/redis.js';
import { Hub } from '../../src/hub.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { advanceUntil } from '../helpers/redis-clock.js';
import { client, startNode, startProxy, text } from '../helpers/redis-nodes.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';

const skip = skipWithoutRedis;

describe('redis faults', { skip }, () => {
  it('buffers publishes while Redis is unreachable (bounded, oldest dropped) and flushes them in order', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const a = await startNode(t, proxy.url, { maxBuffered: 50, clock });
    const b = await startNode(t, redis.url);
    const onA = await client(t, a, 'room');
    const onB = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 2);
    const events: string[] = [];
    const mine = (m: unknown): boolean => (m as { nodeId: string }).nodeId === a.adapter.nodeId.toString('hex');
    const onDown = (m: unknown): void => {
      if (mine(m)) events.push('down');
    };
    const onUp = (m: unknown): void => {
      if (mine(m)) events.push('up');
    };
    subscribe('switchboard:redis:down', onDown);
    subscribe('switchboard:redis:up', onUp);
    t.after(() => {
      unsubscribe('switchboard:redis:down', onDown);
      unsubscribe('switchboard:redis:up', onUp);
    });
    assert.ok(redisDownChannel.hasSubscribers && redisUpChannel.hasSubscribers);

    const down = once(a.adapter, 'down');
    await proxy.cut();
    await down;
    assert.equal(a.adapter.connected, false);
    assert.equal(a.adapter.stats.outages, 1);
    for (let i = 0; i < 80; i++) a.hub.publish('room', `m${i}`);
    // Local subscribers are served during the outage, every message.
    await onA.received(80);
    assert.equal(a.adapter.stats.buffered, 50);
    assert.equal(a.adapter.stats.overflowed, 30);
    assert.equal(onB.messages.length, 0);

    await proxy.restore();
    await advanceUntil(clock, 'node A back', () => a.adapter.connected);
    assert.equal(a.adapter.stats.reconnects, 1);
    // The 50 newest, in order, once each; then live traffic flows again both ways.
    await onB.received(50);
    a.hub.publish('room', 'after a');
    b.hub.publish('room', 'after b');
    await onB.received(52);
    await onA.received(82);
    const expected = Array.from({ length: 50 }, (_, i) => `m${i + 30}`);
    // Across publishers there is no order (B's own is delivered at once, A's crosses Redis): compare as sets there.
    assert.deepEqual(text(onB.messages).slice(0, 50), expected);
    assert.deepEqual(text(onB.messages).slice(50).sort(), ['after a', 'after b']);
    assert.deepEqual(text(onA.messages).slice(80).sort(), ['after a', 'after b']);
    assert.equal(a.adapter.stats.buffered, 0);
    assert.equal(a.adapter.stats.flushed, 50);
    assert.ok(a.adapter.stats.errors >= 1);
    assert.deepEqual(events, ['down', 'up']);
    assert.equal(b.adapter.stats.outages, 0);
  });

  it('survives a Redis restart mid-stream: reconnects, re-subscribes, and traffic flows again', async (t) => {
    const redis = await startRedisServer(t);
    const a = await startNode(t, redis.url, { maxBuffered: 20 });
    const b = await startNode(t, redis.url, { maxBuffered: 20 });
    const onA = await client(t, a, 'live');
    const onB = await client(t, b, 'live');
    await waitForSubscribers(redis, 'switchboard:live', 2);

    // A stream from A, 10 messages every 2 ms, while Redis is killed and started again.
    let i = 0;
    let maxBuffered = 0;
    const timer = setInterval(() => {
      for (let k = 0; k < 10; k++) a.hub.publish('live', `s${i++}`);
      maxBuffered = Math.max(maxBuffered, a.adapter.stats.buffered);
    }, 2);
    t.after(() => clearInterval(timer));
    await waitFor('some of the stream across', () => onB.messages.length >= 20);
    await redis.restart();
    await waitFor(
      'both nodes back',
      () => a.adapter.connected && b.adapter.connected && a.adapter.stats.reconnects >= 1,
    );
    await waitForSubscribers(redis, 'switchboard:live', 2);
    clearInterval(timer);
    const streamed = i;

    assert.ok(a.adapter.stats.outages >= 1 && b.adapter.stats.outages >= 1, 'outages counted on both nodes');
    assert.ok(b.adapter.stats.reconnects >= 1);
    assert.ok(maxBuffered <= 20, `buffer bound held (max ${maxBuffered})`);
    // A's own subscribers got the whole stream; B got an in-order, duplicate-free subsequence of it.
    await onA.received(streamed);
    assert.deepEqual(
      text(onA.messages),
      Array.from({ length: streamed }, (_, k) => `s${k}`),
    );
    const atB = text(onB.messages).map((m) => Number(m.slice(1)));
    for (let k = 1; k < atB.length; k++)
      assert.ok(atB[k]! > atB[k - 1]!, `in order at ${k}: ${atB[k - 1]} then ${atB[k]}`);

    // After recovery: every message from both nodes reaches both nodes.
    for (let k = 0; k < 20; k++) {
      a.hub.publish('live', `after a${k}`);
      b.hub.publish('live', `after b${k}`);
    }
    const afters = (c: typeof onA): number => text(c.messages).filter((m) => m.startsWith('after')).length;
    await waitFor('40 messages after recovery on both nodes', () => afters(onA) >= 40 && afters(onB) >= 40);
    for (const c of [onA, onB]) {
      assert.equal(afters(c), 40);
      const after = text(c.messages).filter((m) => m.startsWith('after'));
      assert.deepEqual(
        after.filter((m) => m.startsWith('after a')),
        Array.from({ length: 20 }, (_, k) => `after a${k}`),
      );
      assert.deepEqual(
        after.filter((m) => m.startsWith('after b')),
        Array.from({ length: 20 }, (_, k) => `after b${k}`),
      );
    }
    assert.deepEqual(a.errors, []);
  });

  it('serves local traffic when Redis is unreachable from the start, and closes cleanly', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    await proxy.cut();
    const clock = new ManualClock();
    const adapter = new RedisAdapter({ url: proxy.url, clock, maxBuffered: 5 });
    const hub = new Hub({ adapter });
    await advanceUntil(clock, 'a few failed attempts', () => adapter.stats.errors >= 6);
    assert.equal(adapter.connected, false);
    for (let k = 0; k < 8; k++) hub.publish('t', `x${k}`);
    assert.equal(adapter.stats.buffered, 5);
    assert.equal(adapter.stats.overflowed, 3);
    // Redis shows up late: the node connects and flushes.
    await proxy.restore();
    await advanceUntil(clock, 'connected', () => adapter.connected);
    await waitFor('flushed', () => adapter.stats.published === 5);
    await hub.close();
    assert.equal(adapter.connected, false);
  });
});
