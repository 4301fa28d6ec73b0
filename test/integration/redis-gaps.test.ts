// The gap signal (HubOptions.onGap): when loss cannot be avoided — a node cut off from Redis on its own (pub/sub does
// not replay), or a publishing node whose outage buffer overflowed — the subscribers' node learns which topic and how
// many messages, from each publisher's numbering of the topic.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { encodeEnvelope, RedisAdapter } from '../../src/adapters/redis.js';
import { type GapInfo, Hub } from '../../src/hub.js';
import { advanceUntil } from '../helpers/redis-clock.js';
import { client, startNode, startProxy, text } from '../helpers/redis-nodes.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';

const skip = skipWithoutRedis;
const gapsOf = (gaps: Array<{ topic: string } & GapInfo>) => gaps.map((g) => [g.topic, g.reason, g.missed]);

describe('gap signal', { skip }, () => {
  it('messages published while only the subscribing node was cut off are reported to it, with how many', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const a = await startNode(t, redis.url);
    const b = await startNode(t, proxy.url, { clock });
    const onB = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 1);
    a.hub.publish('room', 'm0');
    await onB.received(1);

    const down = once(b.adapter, 'down');
    await proxy.cut();
    await down;
    for (let i = 1; i <= 5; i++) a.hub.publish('room', `m${i}`); // A is connected: they go out, and nobody on B hears
    await waitFor('sent by A', () => a.adapter.stats.published === 6);
    await proxy.restore();
    await advanceUntil(clock, 'B back', () => b.adapter.connected);
    // Once subscribed again, B says it may have missed something (it cannot know what yet)...
    await waitFor('the reconnect gap', () => b.gaps.length === 1);
    a.hub.publish('room', 'm6');
    await onB.received(2);
    // ...and the next message from A tells exactly how many.
    assert.deepEqual(text(onB.messages), ['m0', 'm6']);
    assert.deepEqual(gapsOf(b.gaps), [
      ['room', 'reconnect', null],
      ['room', 'sequence', 5],
    ]);
    assert.equal(b.hub.stats.gaps, 2);
    assert.deepEqual(a.gaps, []);
  });

  it('an outage buffer that overflows is reported per topic by the publishing node, and the other node learns how many it missed, even of a topic with nothing left to flush', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const a = await startNode(t, proxy.url, { clock, maxBuffered: 3 });
    const b = await startNode(t, redis.url);
    const onX = await client(t, b, 'x');
    const onY = await client(t, b, 'y');
    await waitForSubscribers(redis, 'switchboard:x', 1);
    await waitForSubscribers(redis, 'switchboard:y', 1);
    a.hub.publish('x', 'x0');
    a.hub.publish('y', 'y0');
    await onX.received(1);
    await onY.received(1);

    const down = once(a.adapter, 'down');
    await proxy.cut();
    await down;
    for (const m of ['x1', 'x2', 'y1', 'y2', 'y3']) a.hub.publish(m[0]!, m);
    // (a send that raced the cut comes back to the buffer a moment later)
    await waitFor('x1 and x2 dropped, y1..y3 waiting', () => a.adapter.stats.overflowed === 2);
    assert.equal(a.adapter.stats.buffered, 3);
    assert.deepEqual(a.gaps, [], 'reported when the buffer is flushed');
    await proxy.restore();
    await advanceUntil(clock, 'A back and flushed', () => a.adapter.connected && a.adapter.stats.buffered === 0);
    await onY.received(4);
    await waitFor('the skip marker of x at B', () => b.gaps.some((g) => g.topic === 'x'));
    assert.deepEqual(text(onX.messages), ['x0']);
    assert.deepEqual(text(onY.messages), ['y0', 'y1', 'y2', 'y3']);
    assert.deepEqual(gapsOf(a.gaps), [['x', 'overflow', 2]]);
    assert.deepEqual(gapsOf(b.gaps), [['x', 'sequence', 2]]);
    assert.equal(b.adapter.stats.received, 5, 'a skip marker is not a message');
  });

  it("reads each publisher's numbering per topic: a jump is a gap, a restart from 1 is not, and the app's onGap throwing breaks nothing", async (t) => {
    const redis = await startRedisServer(t);
    const adapter = new RedisAdapter({ url: redis.url });
    const gaps: Array<[string, GapInfo]> = [];
    const errors: unknown[] = [];
    const hub = new Hub({
      adapter,
      onGap: (topic, info) => {
        gaps.push([topic, info]);
        throw new Error('app bug');
      },
      onAdapterError: (err) => errors.push(err),
    });
    t.after(() => hub.close());
    await hub.ready();
    await adapter.subscribe('t');
    await adapter.subscribe('u');
    const [p, q] = [randomBytes(16), randomBytes(16)];
    const send = (node: Buffer, seq: number, topic: string, topicSeq: number) =>
      redis.command([
        'PUBLISH',
        `switchboard:${topic}`,
        encodeEnvelope(node, seq, topicSeq, { type: 'text', data: Buffer.from(`${seq}`) }),
      ]);
    await send(p, 1, 't', 7); // first heard: nothing to compare with
    await send(p, 2, 'u', 1);
    await send(p, 3, 't', 8);
    await send(q, 1, 't', 1); // another publisher has its own numbering
    await send(p, 4, 't', 11); // 9 and 10 missing
    await send(p, 5, 't', 1); // p forgot the topic's count: a new start, not a gap
    await send(p, 6, 't', 2);
    await send(p, 6, 't', 3); // a repeat of sequence 6: dropped before any numbering
    await send(q, 2, 'u', 1);
    await send(p, 9, 'u', 3); // 2 missing on u
    await waitFor('all read', () => adapter.stats.received + adapter.stats.duplicatesDropped === 10);
    assert.deepEqual(gaps, [
      ['t', { reason: 'sequence', missed: 2 }],
      ['u', { reason: 'sequence', missed: 1 }],
    ]);
    assert.equal(adapter.stats.duplicatesDropped, 1);
    assert.equal(errors.length, 2, "each of the app's exceptions reported");
    assert.equal(hub.stats.gaps, 2);
  });
});
