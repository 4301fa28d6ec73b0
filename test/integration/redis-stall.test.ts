// A Redis that stalls — accepts TCP, never answers — played by a proxy that stops forwarding, by a TCP server that
// never replies, and by a real redis-server stopped with SIGSTOP. Every call is bounded (commandTimeout, on the
// injected clock: these tests move a ManualClock instead of waiting), fails with ERR_REDIS_TIMEOUT, and the stalled
// connection is replaced; nothing hangs and nothing is lost or repeated.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createChat } from '../../apps/chat.js';
import { RedisAdapter, RedisError, redisHistory } from '../../src/adapters/redis.js';
import { connect } from '../../src/client.js';
import { Hub } from '../../src/hub.js';
import { advanceUntil, settle } from '../helpers/redis-clock.js';
import { client, startNode, startProxy, text } from '../helpers/redis-nodes.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';
import { ManualClock } from '../helpers/manual-clock.js';

const skip = skipWithoutRedis;

/** A TCP server that accepts connections and never writes a byte: Redis hung before answering anything. */
async function silentServer(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  const address = srv.address();
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return `redis://127.0.0.1:${address.port}`;
}

function timeoutError(err: unknown, what: RegExp): void {
  assert.ok(err instanceof RedisError, `a RedisError, got ${String(err)}`);
  assert.equal(err.code, 'ERR_REDIS_TIMEOUT');
  assert.match(err.message, what);
}

describe('a stalled Redis', { skip }, () => {
  it('a publish that gets no answer fails with ERR_REDIS_TIMEOUT after commandTimeout and goes back to the buffer in order (was: it hung for ever)', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const a = await startNode(t, proxy.url, { clock });
    const b = await startNode(t, redis.url);
    const onB = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 1);
    a.hub.publish('room', 'm0');
    await onB.received(1);
    const downs: Error[] = [];
    a.adapter.on('down', (err) => downs.push(err));

    proxy.stall();
    for (const m of ['m1', 'm2', 'm3']) a.hub.publish('room', m);
    await settle();
    clock.advance(1999);
    await settle();
    assert.deepEqual(downs, [], 'not before commandTimeout');
    assert.equal(a.adapter.stats.buffered, 0, 'still waiting for their answers');
    clock.advance(1);
    await waitFor('the publishes back in the buffer', () => a.adapter.stats.buffered === 3);
    assert.equal(a.adapter.connected, false);
    timeoutError(downs[0], /^PUBLISH to switchboard:room timed out: no answer from Redis within 2000 ms$/);
    assert.ok(a.adapter.stats.timeouts >= 1);
    a.hub.publish('room', 'm4'); // queues behind the three
    assert.equal(a.adapter.stats.buffered, 4);

    await proxy.restore();
    await advanceUntil(clock, 'node A back', () => a.adapter.connected);
    await advanceUntil(clock, 'the buffer flushed', () => onB.messages.length >= 5);
    assert.deepEqual(text(onB.messages), ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(a.adapter.stats.published, 5, 'each counted once');
    assert.equal(a.adapter.stats.flushed, 4);
    assert.equal(a.adapter.stats.buffered, 0);
  });

  it('an idle connection to a stalled Redis is found out by the health check, and the node reconnects when Redis answers again', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const a = await startNode(t, proxy.url, { clock, healthCheckInterval: 500, commandTimeout: 300 });
    const down = once(a.adapter, 'down');
    proxy.stall();
    clock.advance(799);
    await settle();
    assert.equal(a.adapter.connected, true, 'the PING has 300 ms to answer');
    clock.advance(1);
    const [err] = await down;
    timeoutError(err, /^health check \(PING on the (publish|subscribe) connection\) timed out: .* within 300 ms$/);
    a.hub.publish('t', 'while stalled');
    assert.equal(a.adapter.stats.buffered, 1, 'publishes buffer once the stall is known');
    await proxy.restore();
    await advanceUntil(clock, 'reconnected', () => a.adapter.connected);
    await advanceUntil(clock, 'flushed', () => a.adapter.stats.published === 1);
    assert.equal(a.adapter.stats.reconnects, 1);
  });

  it('hub.recover and publishRecorded on a stalled Redis reject with ERR_REDIS_TIMEOUT within the bound (was: both hung)', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const history = redisHistory({ url: proxy.url, clock, healthCheckInterval: 0 });
    const hub = new Hub({ history });
    t.after(() => hub.close());
    await history.ready();
    const { offset } = await hub.publishRecorded('room', 'before');
    const failure = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => null,
        (err: unknown) => err,
      );

    proxy.stall();
    const recovered = failure(hub.recover('room', offset));
    await settle();
    clock.advance(1999);
    await settle();
    assert.equal(history.stats.timeouts, 0);
    clock.advance(1);
    timeoutError(await recovered, /^history read of "room" timed out: no answer from Redis within 2000 ms$/);
    assert.equal(history.connected, false, 'the stalled connection was dropped');
    // While it is down, calls fail at once rather than wait.
    const refused = await failure(hub.publishRecorded('room', 'refused'));
    assert.ok(refused instanceof RedisError);
    assert.equal(refused.code, 'ERR_REDIS_UNAVAILABLE');
    assert.match(
      refused.message,
      /^history append to "room" failed: Redis is unreachable \(history connection down\)$/,
    );

    await proxy.restore();
    await advanceUntil(clock, 'history back', () => history.connected);
    proxy.stall();
    const recorded = failure(hub.publishRecorded('room', 'during'));
    await settle();
    clock.advance(2000);
    timeoutError(await recorded, /^history append to "room" timed out: no answer from Redis within 2000 ms$/);
    assert.equal(history.stats.timeouts, 2);

    await proxy.restore();
    await advanceUntil(clock, 'history back again', () => history.connected);
    await hub.publishRecorded('room', 'after');
    const r = await hub.recover('room', offset);
    // 'during' may or may not have been recorded (its answer was lost, not necessarily the command): never twice.
    const texts = r.messages.map((e) => e.msg.data.toString());
    assert.equal(texts.at(-1), 'after');
    assert.ok(texts.length <= 2 && !texts.includes('refused'));
  });

  it("the chat's join on a stalled Redis is welcomed (history unreachable) instead of hanging, and messages still flow", async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const adapter = new RedisAdapter({ url: proxy.url, clock, healthCheckInterval: 0 });
    const history = redisHistory({ url: proxy.url, clock, healthCheckInterval: 0 });
    const chat = createChat({ heartbeat: false }, { hub: { adapter, history } });
    t.after(() => chat.close());
    await Promise.all([chat.hub.ready(), history.ready()]);
    const { port } = await chat.server.listen(0, '127.0.0.1');
    proxy.stall();
    const conn = await connect(`ws://127.0.0.1:${port}/`);
    t.after(() => conn.terminate());
    const events: Array<Record<string, unknown>> = [];
    conn.on('message', (m) => events.push(JSON.parse(String(m.data)) as Record<string, unknown>));
    conn.send(JSON.stringify({ type: 'join', room: 'tea', name: 'ann', since: 5 }));
    conn.send(JSON.stringify({ type: 'say', text: 'waiting in the backlog' }));
    await advanceUntil(clock, 'the welcome', () => events.some((e) => e.type === 'welcome'), { step: 500 });
    const welcome = events.find((e) => e.type === 'welcome')!;
    assert.deepEqual([welcome.gap, welcome.history], [true, []]);
    await advanceUntil(clock, 'the backlog drained', () =>
      events.some((e) => e.type === 'message' && e.text === 'waiting in the backlog'),
    );
  });

  it('connecting to a server that accepts TCP and never answers times out after connectTimeout and is retried', async (t) => {
    const url = await silentServer(t);
    const clock = new ManualClock();
    const adapter = new RedisAdapter({ url, clock, connectTimeout: 1000, reconnect: { initialDelay: 100 } });
    const hub = new Hub({ adapter });
    await settle();
    clock.advance(999);
    assert.equal(adapter.stats.timeouts, 0);
    clock.advance(1);
    assert.equal(adapter.stats.timeouts, 2, 'both connections');
    await advanceUntil(clock, 'a second round of attempts timed out', () => adapter.stats.timeouts >= 4);
    assert.equal(adapter.connected, false);
    hub.publish('t', 'buffered');
    assert.equal(adapter.stats.buffered, 1);
    await hub.close(); // nothing connected: returns without waiting
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  it('close() on a stalled Redis returns after closeTimeout and leaves no timer behind', async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startProxy(t, redis.port);
    const clock = new ManualClock();
    const adapter = new RedisAdapter({ url: proxy.url, clock, closeTimeout: 500 });
    const hub = new Hub({ adapter });
    await hub.ready();
    proxy.stall();
    hub.publish('t', 'in flight');
    let closed = false;
    const closing = hub.close().then(() => {
      closed = true;
    });
    await settle();
    clock.advance(499);
    await settle();
    assert.equal(closed, false, 'waits for the publish in flight');
    clock.advance(1);
    await closing;
    assert.equal(clock.pending, 0);
  });

  it('a Redis stopped with SIGSTOP: both nodes find out, buffer, and after SIGCONT every message arrives once and in order, with the interruption reported', async (t) => {
    const redis = await startRedisServer(t);
    const clock = new ManualClock();
    const a = await startNode(t, redis.url, { clock });
    const b = await startNode(t, redis.url, { clock });
    const onA = await client(t, a, 'room');
    const onB = await client(t, b, 'room');
    await waitForSubscribers(redis, 'switchboard:room', 2);
    a.hub.publish('room', 'm0');
    await onB.received(1);

    redis.pause(); // the helper's SIGKILL at the end ends it even if stopped
    for (const m of ['m1', 'm2', 'm3']) a.hub.publish('room', m);
    await advanceUntil(clock, 'both nodes down', () => !a.adapter.connected && !b.adapter.connected);
    a.hub.publish('room', 'm4');
    await onA.received(5); // local delivery never waits for Redis
    redis.resume();
    await advanceUntil(clock, 'both back', () => a.adapter.connected && b.adapter.connected);
    await advanceUntil(clock, 'everything at B', () => onB.messages.length >= 5);
    a.hub.publish('room', 'end');
    await advanceUntil(clock, 'the end marker at B', () => text(onB.messages).includes('end'));
    assert.deepEqual(text(onB.messages), ['m0', 'm1', 'm2', 'm3', 'm4', 'end']);
    assert.ok(a.adapter.stats.timeouts >= 1 && b.adapter.stats.timeouts >= 1);
    // B's subscription was interrupted: it says so (it cannot know what other nodes sent meanwhile).
    assert.deepEqual(
      b.gaps.map((g) => [g.topic, g.reason, g.missed]),
      [['room', 'reconnect', null]],
    );
    assert.deepEqual(a.errors, []);
  });
});
