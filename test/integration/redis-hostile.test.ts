// Whatever else writes to the cluster's Redis channels and streams, a node hands its hub only well-formed messages:
// bad envelopes and history entries are dropped and counted, never delivered, never thrown into the hub — above all a
// "text" message whose bytes are not UTF-8, which used to close every subscriber of the topic with 1007.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeEnvelope, RedisAdapter, redisHistory } from '../../src/adapters/redis.js';
import type { HubMessage } from '../../src/hub.js';
import { Hub } from '../../src/hub.js';
import { client, startNode, text } from '../helpers/redis-nodes.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';

const skip = skipWithoutRedis;
const NOT_UTF8 = Buffer.from([0x68, 0x69, 0xc3, 0x28, 0xff]);

describe('a hostile writer to Redis', { skip }, () => {
  it('a text envelope whose bytes are not UTF-8 is dropped and counted, and no subscriber is closed (was: all closed with 1007)', async (t) => {
    const redis = await startRedisServer(t);
    const b = await startNode(t, redis.url);
    const c1 = await client(t, b, 'room');
    const c2 = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 1);
    const forger = randomBytes(16);
    await redis.command([
      'PUBLISH',
      'switchboard:room',
      encodeEnvelope(forger, 1, 1, { type: 'text', data: NOT_UTF8 }),
    ]);
    await redis.command(['PUBLISH', 'switchboard:room', encodeEnvelope(forger, 2, 2, msg('text', 'still open'))]);
    for (const c of [c1, c2]) await c.received(1);
    assert.deepEqual(text(c1.messages), ['still open']);
    assert.deepEqual(text(c2.messages), ['still open']);
    assert.equal(c1.conn.readyState, 1);
    assert.equal(c2.conn.readyState, 1);
    assert.equal(b.adapter.stats.malformed, 1);
    assert.equal(b.adapter.stats.received, 1);
    assert.deepEqual(b.errors, []);
  });

  it('every other kind of bad envelope is dropped and counted, and what follows is delivered', async (t) => {
    const redis = await startRedisServer(t);
    const b = await startNode(t, redis.url, { maxMessageSize: 1024 });
    const c = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 1);
    const node = randomBytes(16);
    const good = encodeEnvelope(node, 1, 1, msg('binary', 'x'));
    const withByte = (at: number, value: number): Buffer => {
      const copy = Buffer.from(good);
      copy[at] = value;
      return copy;
    };
    const zeroed = (at: number): Buffer => {
      const copy = Buffer.from(good);
      copy.fill(0, at, at + 6);
      return copy;
    };
    const marker = encodeEnvelope(node, 1, 1, null);
    const bad: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['shorter than a header', good.subarray(0, 29)],
      ['plain text', Buffer.from('hello')],
      ['a RESP reply', Buffer.from('*3\r\n$7\r\nmessage\r\n')],
      ['version 1', withByte(0, 1)],
      ['version 255', withByte(0, 255)],
      ['unknown kind', withByte(1, 7)],
      ['sequence 0', zeroed(18)],
      ['topic sequence 0', zeroed(24)],
      ['a skip marker with bytes', Buffer.concat([marker, Buffer.from('x')])],
      ['over maxMessageSize', encodeEnvelope(node, 1, 1, { type: 'binary', data: Buffer.alloc(1025) })],
      ['text over maxMessageSize', encodeEnvelope(node, 1, 1, { type: 'text', data: Buffer.alloc(5000, 0x61) })],
    ];
    for (const [, envelope] of bad) await redis.command(['PUBLISH', 'switchboard:room', envelope]);
    await redis.command(['PUBLISH', 'switchboard:room', encodeEnvelope(node, 1, 1, msg('text', 'after'))]);
    await redis.command([
      'PUBLISH',
      'switchboard:room',
      encodeEnvelope(node, 2, 2, { type: 'binary', data: Buffer.alloc(1024) }),
    ]);
    await c.received(2);
    assert.deepEqual(text(c.messages), ['after', '<binary 1024>'], 'exactly maxMessageSize still goes');
    assert.equal(b.adapter.stats.malformed, bad.length);
    assert.deepEqual(b.errors, []);
    assert.equal(c.conn.readyState, 1);
  });

  it('refuses to publish what other nodes would drop: over maxMessageSize (RangeError) or text that is not UTF-8 (TypeError)', async (t) => {
    const redis = await startRedisServer(t);
    const a = await startNode(t, redis.url, { maxMessageSize: 100 });
    const onA = await client(t, a, 'room');
    a.hub.publish('room', Buffer.alloc(101));
    // (on a topic without local subscribers: the hub itself would frame it as text for them)
    a.hub.publish('nobody here', NOT_UTF8, { binary: false });
    a.hub.publish('room', Buffer.alloc(100));
    await onA.received(2); // local subscribers are served all the same
    await waitFor('the good one published', () => a.adapter.stats.published === 1);
    assert.equal(a.errors.length, 2);
    assert.ok(a.errors[0] instanceof RangeError);
    assert.match((a.errors[0] as Error).message, /101-byte message exceeds maxMessageSize \(100\)/);
    assert.ok(a.errors[1] instanceof TypeError);
    assert.match((a.errors[1] as Error).message, /text message must be valid UTF-8/);
  });

  it('history entries the store did not write are dropped and counted; a bad counter or key fails clearly', async (t) => {
    const redis = await startRedisServer(t);
    const history = redisHistory({ url: redis.url, maxMessageSize: 64 });
    t.after(() => history.close());
    await history.ready();
    const hub = new Hub({ history });
    const { offset } = await hub.publishRecorded('t', 'first');
    const id = (k: number): string => `${offset + k}-0`;
    const xadd = (streamId: string, ...fields: Array<string | Buffer>) =>
      redis.command(['XADD', 'switchboard:h:t', streamId, ...fields]);
    const now = String(Date.now());
    await xadd(id(1), 'y', 't', 'd', NOT_UTF8, 't', now); // text, not UTF-8
    await xadd(id(2), 'y', 't', 't', now); // no data
    await xadd(id(3), 'y', 'q', 'd', 'x', 't', now); // unknown type
    await xadd(id(4), 'y', 'b', 'd', 'x', 't', 'soon'); // time not a number
    await xadd(`${offset + 5}-7`, 'y', 'b', 'd', 'x', 't', now); // not an id this store writes
    await xadd(id(6), 'y', 'b', 'd', Buffer.alloc(65), 't', now); // over maxMessageSize
    await xadd(id(7), 'y', 'b', 'd', Buffer.from([0, 255]), 't', now); // fine
    await redis.command(['SET', 'switchboard:o:t', String(offset + 7)]);
    let r = await hub.recover('t', offset);
    assert.deepEqual(
      r.messages.map((e) => [e.offset - offset, e.msg.type, [...e.msg.data]]),
      [[7, 'binary', [0, 255]]],
    );
    assert.equal(r.gap, true, 'what was dropped is missing');
    assert.equal(history.stats.malformed, 6);
    assert.equal(r.last, offset + 7);

    // A counter that is not a number: nothing is known of the topic (and it is counted); appending fails clearly.
    await redis.command(['SET', 'switchboard:o:t', 'abc']);
    r = await hub.recover('t', offset);
    assert.equal(r.last, null);
    assert.equal(r.gap, true);
    assert.equal(history.stats.malformed, 6 + 6 + 1);
    await assert.rejects(hub.publishRecorded('t', 'x'), /not an integer/);
    // A key of another type: Redis's own error, not a crash.
    await redis.command(['SET', 'switchboard:h:u', 'x']);
    await redis.command(['SET', 'switchboard:o:u', '5']);
    await assert.rejects(hub.recover('u', 1), /WRONGTYPE/);
    await assert.rejects(hub.publishRecorded('u', 'x'), /WRONGTYPE/);
    // And it still works for everything else.
    const ok = await hub.publishRecorded('v', 'fine');
    assert.equal((await hub.recover('v', ok.offset - 1)).messages.length, 1);
  });

  it('refuses to record what readers would drop', async (t) => {
    const redis = await startRedisServer(t);
    const history = redisHistory({ url: redis.url, maxMessageSize: 10 });
    t.after(() => history.close());
    await history.ready();
    await assert.rejects(history.append('t', { type: 'binary', data: Buffer.alloc(11) }), RangeError);
    await assert.rejects(history.append('t', { type: 'text', data: NOT_UTF8 }), TypeError);
    assert.deepEqual(await history.since('t'), { messages: [], gap: false, last: null });
  });

  it('an adapter with no listener for its events survives a flood of garbage', async (t) => {
    const redis = await startRedisServer(t);
    const adapter = new RedisAdapter({ url: redis.url });
    const delivered: HubMessage[] = [];
    await adapter.start((_topic, m) => delivered.push(m));
    t.after(() => adapter.close());
    await adapter.subscribe('t');
    for (let i = 0; i < 200; i++) {
      const junk = randomBytes(i % 60);
      if (junk[0] === 2) junk[0] = 3; // a version-2 start could, once in a while, be a valid envelope by chance
      await redis.command(['PUBLISH', 'switchboard:t', junk]);
    }
    await redis.command(['PUBLISH', 'switchboard:t', encodeEnvelope(randomBytes(16), 1, 1, msg('text', 'ok'))]);
    await waitFor('the good one', () => delivered.length === 1);
    assert.equal(adapter.stats.malformed, 200);
  });
});

function msg(type: HubMessage['type'], s: string): HubMessage {
  return { type, data: Buffer.from(s) };
}
