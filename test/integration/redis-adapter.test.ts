// The Redis adapter (src/adapters/redis.ts) on a real redis-server: cross-node delivery, no echo, per-publisher order,
// binary safety, and channels joined only while a node has local subscribers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeEnvelope, encodeEnvelope, parseRedisUrl, RedisAdapter } from '../../src/adapters/redis.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';
import { client, startNode, text } from '../helpers/redis-nodes.js';

const skip = skipWithoutRedis;

describe('redis adapter', { skip }, () => {
  it('delivers a publish on one node to the subscribers of every node, once each (no echo)', async (t) => {
    const redis = await startRedisServer(t);
    const a = await startNode(t, redis.url);
    const b = await startNode(t, redis.url);
    const a1 = await client(t, a, 'room');
    const a2 = await client(t, a, 'room');
    const b1 = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 2);

    a.hub.publish('room', 'from a');
    b.hub.publish('room', 'from b');
    // A last marker from each node: once it arrived everywhere, anything duplicated before it would be there too.
    a.hub.publish('room', 'end a');
    b.hub.publish('room', 'end b');
    for (const c of [a1, a2, b1]) await c.received(4);
    for (const c of [a1, a2, b1]) {
      const got = text(c.messages);
      assert.deepEqual(
        got.filter((m) => m.endsWith(' a')),
        ['from a', 'end a'],
      );
      assert.deepEqual(
        got.filter((m) => m.endsWith(' b')),
        ['from b', 'end b'],
      );
      assert.equal(got.length, 4);
    }
    await waitFor('echoes dropped', () => a.adapter.stats.echoesDropped === 2 && b.adapter.stats.echoesDropped === 2);
    assert.equal(a.adapter.stats.received, 2);
    assert.equal(b.adapter.stats.received, 2);
    assert.equal(a.adapter.stats.published, 2);
    assert.deepEqual(a.errors, []);
  });

  it('keeps each publisher’s order and every byte, text and binary, across nodes', async (t) => {
    const redis = await startRedisServer(t);
    const a = await startNode(t, redis.url);
    const b = await startNode(t, redis.url);
    const c = await startNode(t, redis.url);
    const onC = await client(t, c, 'bin');
    await waitForSubscribers(redis, 'switchboard:bin', 1);
    const N = 400;
    const sent = new Map<string, Buffer[]>([
      ['a', []],
      ['b', []],
    ]);
    for (let i = 0; i < N; i++) {
      for (const [name, node] of [
        ['a', a],
        ['b', b],
      ] as const) {
        // A tag byte, a big-endian index, then random bytes: NULs, 0xff, invalid UTF-8, CRLF, all included.
        const payload = Buffer.concat([
          Buffer.from([name.charCodeAt(0)]),
          Buffer.alloc(4),
          randomBytes(i % 7 === 0 ? 70_000 : 1 + (i % 50)),
        ]);
        payload.writeUInt32BE(i, 1);
        if (i === 3) payload.write('\r\n$-1\r\n*0\r\n\u0000', 5, 'latin1');
        sent.get(name)!.push(payload);
        node.hub.publish('bin', payload);
      }
    }
    const texts = ['plain', 'ünïcödé ✓ 🚀', '', '{"json":true}'];
    for (const s of texts) a.hub.publish('bin', s);
    await onC.received(2 * N + texts.length, 20_000);
    const got = onC.messages;
    for (const name of ['a', 'b']) {
      const mine = got
        .filter((m) => m.type === 'binary' && m.data[0] === name.charCodeAt(0))
        .map((m) => m.data as Buffer);
      assert.equal(mine.length, N, `all of ${name}'s messages`);
      for (let i = 0; i < N; i++) assert.ok(mine[i]!.equals(sent.get(name)![i]!), `${name} #${i} in order and intact`);
    }
    const gotTexts = got.filter((m) => m.type === 'text').map((m) => m.data);
    assert.deepEqual(gotTexts, texts);
  });

  it('subscribes a node to a channel only while it has local subscribers', async (t) => {
    const redis = await startRedisServer(t);
    const a = await startNode(t, redis.url);
    const channels = async (): Promise<string[]> =>
      ((await redis.command<string[]>(['PUBSUB', 'CHANNELS'])) ?? []).sort();
    assert.deepEqual(await channels(), []);
    const first = await client(t, a, 'lobby');
    await waitFor('lobby channel', async () => (await channels()).includes('switchboard:lobby'));
    const second = await client(t, a, 'lobby');
    const other = await client(t, a, 'other');
    await waitFor('other channel', async () => (await channels()).length === 2);
    assert.deepEqual(await channels(), ['switchboard:lobby', 'switchboard:other']);

    await first.conn.close();
    // One subscriber left: the channel stays. Check after the hub has seen the close.
    await waitFor('hub sees the close', () => a.hub.subscribers('lobby') === 1);
    assert.deepEqual(await channels(), ['switchboard:lobby', 'switchboard:other']);
    await second.conn.close();
    await waitFor('lobby channel gone', async () => !(await channels()).includes('switchboard:lobby'));
    await other.conn.close();
    await waitFor('no channel left', async () => (await channels()).length === 0);
    // Coming back subscribes again.
    await client(t, a, 'lobby');
    await waitFor('lobby again', async () => (await channels()).includes('switchboard:lobby'));
  });

  it('encodes an envelope that round-trips type, node, sequences and bytes, and rejects garbage', () => {
    const node = randomBytes(16);
    const data = randomBytes(300);
    const env = encodeEnvelope(node, 2 ** 40 + 7, 2 ** 33 + 1, { type: 'binary', data });
    const back = decodeEnvelope(env, 1 << 20);
    assert.ok(back?.msg);
    assert.ok(back.nodeId.equals(node));
    assert.equal(back.seq, 2 ** 40 + 7);
    assert.equal(back.topicSeq, 2 ** 33 + 1);
    assert.equal(back.msg.type, 'binary');
    assert.ok(back.msg.data.equals(data));
    const marker = decodeEnvelope(encodeEnvelope(node, 9, 4, null), 1 << 20);
    assert.deepEqual(
      { seq: marker?.seq, topicSeq: marker?.topicSeq, msg: marker?.msg },
      { seq: 9, topicSeq: 4, msg: null },
    );
    assert.equal(decodeEnvelope(Buffer.from('hello'), 1 << 20), null);
    assert.equal(decodeEnvelope(Buffer.concat([Buffer.from([9, 0]), Buffer.alloc(30)]), 1 << 20), null);
  });

  it('says what is wrong with a bad Redis URL', () => {
    assert.throws(() => parseRedisUrl('localhost:6379'), /unsupported scheme|not a URL/);
    assert.throws(() => parseRedisUrl('http://127.0.0.1:6379'), /unsupported scheme "http:"/);
    assert.throws(() => parseRedisUrl('redis://'), /no host|not a URL/);
    assert.throws(() => parseRedisUrl('redis://127.0.0.1:6379/x'), /database .* must be a number/);
    assert.throws(() => new RedisAdapter({ url: 'nope' }), TypeError);
    assert.throws(() => new RedisAdapter({ maxBuffered: -1 }), RangeError);
    assert.equal(parseRedisUrl('redis://127.0.0.1:6379/2').port, '6379');
  });

  it('`switchboard serve --redis` with a bad URL says what is wrong and exits 2', () => {
    const run = spawnSync(
      process.execPath,
      ['bin/switchboard.js', 'serve', '--port', '0', '--redis', 'http://127.0.0.1:6379'],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--redis: unsupported scheme "http:"/);
  });
});
