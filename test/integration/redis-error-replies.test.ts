// A Redis that answers a PUBLISH with an error reply, rather than not at all: one it would give every time (an ACL
// refusing the channel) must not be retried for ever at network speed, and a passing one (BUSY while a script runs)
// must be retried, after a delay, until the message gets through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { client, startNode, text } from '../helpers/redis-nodes.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';

const skip = skipWithoutRedis;

async function rejectedPublishes(command: <T>(args: string[]) => Promise<T>): Promise<number> {
  const info = String(await command<string>(['INFO', 'commandstats']));
  const line = info.split('\n').find((l) => l.startsWith('cmdstat_publish:')) ?? '';
  return Number(/rejected_calls=(\d+)/.exec(line)?.[1] ?? 0);
}

describe('error replies to PUBLISH', { skip }, () => {
  it('a PUBLISH the server refuses (ACL NOPERM) is given up and counted, not retried in a hot loop', async (t) => {
    const redis = await startRedisServer(t);
    // Redis 7 channel permissions: only switchboard:ok* for the default user.
    await redis.command(['ACL', 'SETUSER', 'default', 'resetchannels', '&switchboard:ok*']);
    const a = await startNode(t, redis.url);
    const b = await startNode(t, redis.url);
    const c = await client(t, b, 'ok');
    await waitForSubscribers(redis, 'switchboard:ok', 1);
    a.hub.publish('denied', 'refused by the ACL');
    for (let i = 1; i <= 5; i++) {
      a.hub.publish('ok', `m${i}`);
      await c.received(i);
    }
    assert.deepEqual(text(c.messages), ['m1', 'm2', 'm3', 'm4', 'm5']);
    const rejected = await rejectedPublishes(redis.command);
    assert.equal(rejected, 1, `PUBLISH refused ${rejected} times for one message`);
    assert.equal(a.adapter.stats.errors, 1);
    assert.equal(a.adapter.stats.flushed, 0);
    assert.equal(a.adapter.stats.buffered, 0);
  });

  it('a PUBLISH answered BUSY (a long script) is retried after a delay, and arrives once Redis is free', async (t) => {
    const redis = await startRedisServer(t);
    await redis.command(['CONFIG', 'SET', 'busy-reply-threshold', '10']);
    const a = await startNode(t, redis.url, {
      reconnect: { initialDelay: 200, maxDelay: 200 },
      commandTimeout: 30_000,
    });
    const b = await startNode(t, redis.url, { commandTimeout: 30_000 });
    const c = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 1);
    const script = redis.command(['EVAL', 'local i = 0 while true do i = i + 1 end', '0']).catch(() => {});
    await waitFor('Redis to answer BUSY', () =>
      redis.command(['PING']).then(
        () => false,
        (err: Error) => /^BUSY/.test(err.message),
      ),
    );
    a.hub.publish('room', 'while busy');
    await waitFor('the BUSY reply', () => a.adapter.stats.errors + a.adapter.stats.flushed >= 1);
    const retriesBefore = a.adapter.stats.flushed;
    for (let i = 0; i < 5; i++) await redis.command(['PING']).catch(() => {});
    const retries = a.adapter.stats.flushed - retriesBefore;
    assert.ok(retries <= 5, `${retries} retries of one message while Redis was busy`);
    await redis.command(['SCRIPT', 'KILL']);
    await script;
    await c.received(1);
    assert.deepEqual(text(c.messages), ['while busy']);
  });
});

describe('error replies to SUBSCRIBE', { skip }, () => {
  it('after a reconnect, one topic the server refuses (ACL NOPERM) does not keep every other topic unsubscribed', async (t) => {
    const redis = await startRedisServer(t);
    await redis.command(['ACL', 'SETUSER', 'default', 'resetchannels', '&switchboard:ok*']);
    const a = await startNode(t, redis.url);
    const b = await startNode(t, redis.url);
    const c = await client(t, b, 'ok');
    await client(t, b, 'denied');
    await waitForSubscribers(redis, 'switchboard:ok', 1);
    a.hub.publish('ok', 'before');
    await c.received(1);
    // Drops b's subscribe connection (and a's): each comes back and subscribes again to what it wants.
    await redis.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await waitFor('b to reconnect', () => b.adapter.stats.reconnects >= 1);
    await waitForSubscribers(redis, 'switchboard:ok', 1);
    a.hub.publish('ok', 'after');
    await c.received(2);
    assert.deepEqual(text(c.messages), ['before', 'after']);
    assert.ok(b.gaps.some((g) => g.topic === 'ok' && g.reason === 'reconnect'));
    assert.ok(
      b.errors.some((e) => /NOPERM/.test(String(e))),
      'the refused SUBSCRIBE is reported to onAdapterError',
    );
  });
});
