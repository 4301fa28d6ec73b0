// The chat's recovery protocol (apps/chat.ts): messages carry their room offset; a re-join with `since` is welcomed
// with everything said meanwhile (and `gap` when that is no longer kept) — on one node, and across a Redis cluster
// where the client comes back on another node.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { startTestDemo } from '../helpers/demo.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';

type Event = Record<string, unknown> & { type: string };

async function node(t: TestContext, redis?: string) {
  const demo = await startTestDemo({ maxMessageSize: 1 << 20, dashboardInterval: 60_000, ...(redis && { redis }) });
  t.after(() => demo.close());
  return demo;
}

async function chatter(t: TestContext, port: number) {
  const conn: Connection = await connect(`ws://127.0.0.1:${port}/chat`);
  t.after(() => conn.terminate());
  const events: Event[] = [];
  conn.on('message', (msg) => events.push(JSON.parse(String(msg.data)) as Event));
  const next = async (pred: (e: Event) => boolean): Promise<Event> => {
    let found: Event | undefined;
    await waitFor('a matching chat event', () => {
      const i = events.findIndex(pred);
      if (i >= 0) found = events.splice(i, 1)[0];
      return found !== undefined;
    });
    return found!;
  };
  return { conn, events, next, send: (v: object) => conn.send(JSON.stringify(v)) };
}

async function scenario(t: TestContext, portA: number, portB: number) {
  const ann = await chatter(t, portA);
  ann.send({ type: 'join', room: 'tea', name: 'ann' });
  await ann.next((e) => e.type === 'welcome');
  const bob = await chatter(t, portB);
  bob.send({ type: 'join', room: 'tea', name: 'bob' });
  await bob.next((e) => e.type === 'welcome');
  await ann.next((e) => e.type === 'presence' && e.joined === 'bob');

  for (let i = 0; i < 5; i++) ann.send({ type: 'say', text: `m${i}` });
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const m = await bob.next((e) => e.type === 'message');
    assert.equal(m.text, `m${i}`);
    seen.push(m.offset as number);
  }
  assert.deepEqual(
    seen.map((o) => o - seen[0]!),
    [0, 1, 2, 3, 4],
    'consecutive offsets',
  );
  await bob.conn.close();
  await ann.next((e) => e.type === 'presence' && e.left === 'bob');
  for (let i = 5; i < 10; i++) ann.send({ type: 'say', text: `m${i}` });
  for (let i = 5; i < 10; i++) await ann.next((e) => e.type === 'message' && e.text === `m${i}`);

  // Bob comes back — on the other node — with the last offset he saw.
  const back = await chatter(t, portA);
  back.send({ type: 'join', room: 'tea', name: 'bob', since: seen.at(-1) });
  const welcome = await back.next((e) => e.type === 'welcome');
  assert.equal(welcome.gap, false);
  const history = welcome.history as Array<{ text: string; offset: number }>;
  assert.deepEqual(
    history.map((h) => h.text),
    ['m5', 'm6', 'm7', 'm8', 'm9'],
  );
  assert.deepEqual(
    history.map((h) => h.offset - seen.at(-1)!),
    [1, 2, 3, 4, 5],
  );
  ann.send({ type: 'say', text: 'live again' });
  const live = await back.next((e) => e.type === 'message');
  assert.equal(live.text, 'live again');
  assert.equal(live.offset, seen.at(-1)! + 6);

  // An offset older than what is kept: a gap, and everything still kept.
  const late = await chatter(t, portB);
  late.send({ type: 'join', room: 'tea', name: 'cy', since: 1 });
  const w = await late.next((e) => e.type === 'welcome');
  assert.equal(w.gap, true);
  assert.equal((w.history as unknown[]).length, 11);
  // A fresh join keeps the plain welcome (no `gap`).
  const fresh = await chatter(t, portB);
  fresh.send({ type: 'join', room: 'tea', name: 'di' });
  const fw = await fresh.next((e) => e.type === 'welcome');
  assert.equal('gap' in fw, false);
  assert.equal((fw.history as unknown[]).length, 11);
  fresh.send({ type: 'join', room: 'tea', name: 'eve', since: -1 });
  assert.match(String((await fresh.next((e) => e.type === 'error')).message), /"since" must be an offset/);
}

describe('chat recovery', () => {
  it('one node, memory history: a re-join with `since` gets what was said meanwhile', async (t) => {
    const a = await node(t);
    await scenario(t, a.port, a.port);
  });

  it('two nodes on Redis (Streams history): the client comes back on the other node', {
    skip: skipWithoutRedis,
  }, async (t) => {
    const redis = await startRedisServer(t);
    const a = await node(t, redis.url);
    const b = await node(t, redis.url);
    await scenario(t, a.port, b.port);
    await waitForSubscribers(redis, 'switchboard:chat:tea', 2);
  });
});
