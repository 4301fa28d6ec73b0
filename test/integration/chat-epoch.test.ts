// The chat's history epoch (apps/chat.ts): a server's memory history starts over on each start, so an offset a client
// brings back from before a restart is a reset — not lost messages — unless what was said since really was trimmed.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { CHAT_LIMITS } from '../../apps/chat-protocol.js';
import type { DemoServer } from '../../apps/demo-server.js';
import { type ChatPeer, chatPeer, talk } from '../helpers/chat-peer.js';
import { startTestDemo } from '../helpers/demo.js';

async function node(t: TestContext): Promise<{ demo: DemoServer; chat: () => Promise<ChatPeer> }> {
  const demo = await startTestDemo({ maxMessageSize: 1 << 20, dashboardInterval: 60_000 });
  t.after(() => demo.close());
  return { demo, chat: () => chatPeer(t, `${demo.url.replace('http:', 'ws:')}/chat`) };
}

/** Joins, says a few things and returns where it stands (the last offset and the epoch), as a page would. */
async function seenBefore(make: () => Promise<ChatPeer>, room: string): Promise<{ since: number; epoch: string }> {
  const ann = await make();
  const welcome = await ann.join(room, 'ann');
  let since = -1;
  for (const text of ['one', 'two', 'three']) {
    ann.send({ type: 'say', text });
    since = (await ann.next((e) => e.type === 'message' && e.text === text)).offset as number;
  }
  await ann.conn.close();
  return { since, epoch: String(welcome.epoch) };
}

describe('chat history epoch', () => {
  test('regression: a re-join after a restart with nothing said since is no gap, just a reset', async (t) => {
    const before = await node(t);
    const seen = await seenBefore(before.chat, 'tea');
    await before.demo.close();
    const after = await node(t);
    const back = await (await after.chat()).join('tea', 'ann 1', seen);
    assert.equal(back.reset, true);
    assert.equal(back.gap, false, 'nothing was lost: the history started over');
    assert.deepEqual(back.history, []);
    assert.notEqual(back.epoch, seen.epoch);
  });

  test('after a restart, what was said since comes back whole; a gap only once some of it is trimmed', async (t) => {
    const before = await node(t);
    const seen = await seenBefore(before.chat, 'tea');
    await before.demo.close();
    const after = await node(t);
    await talk(after.chat, 'tea', 3);
    const back = await (await after.chat()).join('tea', 'ann 2', seen);
    assert.deepEqual([back.reset, back.gap], [true, false]);
    assert.deepEqual(
      (back.history as Array<{ text: string }>).map((h) => h.text),
      ['said 0', 'said 1', 'said 2'],
    );
    await talk(after.chat, 'tea', CHAT_LIMITS.historyPerRoom);
    const late = await (await after.chat()).join('tea', 'ann 3', seen);
    assert.deepEqual([late.reset, late.gap], [true, true], 'the first ones said after the restart are gone');
    assert.equal((late.history as unknown[]).length, CHAT_LIMITS.historyPerRoom);
  });

  test('the same epoch: a gap exactly when messages after the offset were trimmed', async (t) => {
    const one = await node(t);
    const seen = await seenBefore(one.chat, 'tea');
    await talk(one.chat, 'tea', 2);
    const back = await (await one.chat()).join('tea', 'ann 4', seen);
    assert.equal('reset' in back, false);
    assert.equal(back.gap, false);
    assert.deepEqual(
      (back.history as Array<{ text: string }>).map((h) => h.text),
      ['said 0', 'said 1'],
    );
    await talk(one.chat, 'tea', CHAT_LIMITS.historyPerRoom);
    const late = await (await one.chat()).join('tea', 'ann 5', seen);
    assert.equal('reset' in late, false);
    assert.equal(late.gap, true);
    // A client that sends no epoch gets the store's own answer, as before epochs existed.
    const old = await (await one.chat()).join('tea', 'ann 6', { since: seen.since });
    assert.deepEqual([old.gap, 'reset' in old], [true, false]);
  });
});
