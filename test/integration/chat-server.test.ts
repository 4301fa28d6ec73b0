// The chat server (apps/chat.ts) over real sockets: one connection's requests handled in order with their effects in
// that order (even when they arrive in one TCP read), names that only invisible characters or look-alikes tell apart
// refused, and a history store that fails or stalls never stopping the chat.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { type ChatOptions, createChat, DEFAULT_HISTORY_TIMEOUT } from '../../apps/chat.js';
import { type HistoryStore, memoryHistory, type Recovery } from '../../src/index.js';
import { type ChatEventJson, chatPeer } from '../helpers/chat-peer.js';
import { useDemo } from '../helpers/demo.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { encodeFrame, Op, openPeer, waitUntil } from '../helpers/raw-peer.js';

const isMessage = (e: ChatEventJson): boolean => e.type === 'message';

/** A chat of its own on 127.0.0.1:0 (for a custom history store or clock); closed when the test ends. */
async function chatServer(t: TestContext, options: ChatOptions): Promise<string> {
  const chat = createChat({ origins: '*' }, options);
  const http = createServer((_req, res) => res.writeHead(404).end());
  chat.server.attach(http, { path: '/chat' });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await chat.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}/chat`;
}

/** A promise settled from outside. */
function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: Error): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('chat server', () => {
  const demo = useDemo({ maxMessageSize: 1 << 20, dashboardInterval: 60_000 });
  const chatUrl = (): string => `${demo.url.replace('http:', 'ws:')}/chat`;

  test('regression: "say" then "join" elsewhere in one TCP write: the old room gets the message before "bob left", and bob gets it back', async (t) => {
    const ann = await chatPeer(t, chatUrl());
    await ann.join('tea', 'ann');
    const bob = await openPeer(t, demo.port, { path: '/chat' });
    await bob.sendText(JSON.stringify({ type: 'join', room: 'tea', name: 'bob' }));
    await ann.next((e) => e.type === 'presence' && e.joined === 'bob');
    const say = encodeFrame({ opcode: Op.Text, payload: JSON.stringify({ type: 'say', text: 'bye tea' }) });
    const move = encodeFrame({
      opcode: Op.Text,
      payload: JSON.stringify({ type: 'join', room: 'coffee', name: 'bob' }),
    });
    await bob.sendRaw(Buffer.concat([say, move]));

    const first = await ann.next((e) => isMessage(e) || e.type === 'presence');
    assert.deepEqual([first.type, first.text], ['message', 'bye tea'], 'the message before the leave');
    const left = await ann.next((e) => e.type === 'presence');
    assert.equal(left.left, 'bob');
    const bobs: ChatEventJson[] = [];
    while (!bobs.some((e) => e.type === 'welcome' && e.room === 'coffee')) {
      bobs.push(JSON.parse((await bob.nextMessage()).data.toString()) as ChatEventJson);
    }
    const echoed = bobs.findIndex((e) => isMessage(e) && e.text === 'bye tea' && e.room === 'tea');
    assert.ok(echoed >= 0, `bob got his own message back: ${JSON.stringify(bobs)}`);
    assert.ok(echoed < bobs.findIndex((e) => e.type === 'welcome' && e.room === 'coffee'), 'before the new welcome');
  });

  test('"say" then a close in one TCP write, the history slow to record: the room gets the message, then "bob left"', async (t) => {
    // Recording waits until the test releases it, after bob's connection is gone.
    const memory = memoryHistory();
    const release = deferred<void>();
    let appended = false;
    const gated: HistoryStore = {
      since: (topic, since) => memory.since(topic, since),
      append: async (topic, msg) => {
        appended = true;
        await release.promise;
        return memory.append(topic, msg);
      },
    };
    const url = await chatServer(t, { hub: { history: gated } });
    const ann = await chatPeer(t, url);
    await ann.join('mint', 'ann');
    const bob = await openPeer(t, Number(new URL(url).port), { path: '/chat' });
    await bob.sendText(JSON.stringify({ type: 'join', room: 'mint', name: 'bob' }));
    await ann.next((e) => e.type === 'presence' && e.joined === 'bob');
    const say = encodeFrame({ opcode: Op.Text, payload: JSON.stringify({ type: 'say', text: 'last words' }) });
    const close = encodeFrame({ opcode: Op.Close, payload: Buffer.from([0x03, 0xe8]) });
    await bob.sendRaw(Buffer.concat([say, close]));
    await bob.tcpClosed;
    await waitUntil(() => appended, 'the message handed to the store');
    release.resolve();
    const first = await ann.next((e) => isMessage(e) || e.type === 'presence');
    assert.equal(first.text, 'last words');
    assert.equal((await ann.next((e) => e.type === 'presence')).left, 'bob');
  });

  test('regression: names that differ only by invisible characters are refused, with the code point named', async (t) => {
    const ann = await chatPeer(t, chatUrl());
    await ann.join('ink', 'ann');
    const invisible = [
      ...['\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\ufeff'],
      ...['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'],
      ...['\u00ad', '\u034f', '\u115f', '\u3164', '\ufe00', '\u{e0041}', '\u061c', '\u180e', '\u2028'],
    ];
    for (const [i, c] of invisible.entries()) {
      const eve = await chatPeer(t, chatUrl()); // one each: a burst of 20 requests is the rate limit
      eve.send({ type: 'join', room: 'ink', name: i % 2 ? `ann${c}` : `a${c}nn` });
      const e = await eve.next();
      const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      assert.equal(e.type, 'error', `U+${code}: ${JSON.stringify(e)}`);
      assert.equal(e.request, 'join');
      assert.equal(e.message, `"name" must not contain invisible or control characters (found U+${code})`);
    }
    const eve = await chatPeer(t, chatUrl());
    eve.send({ type: 'join', room: `ink\u200b`, name: 'eve' });
    assert.match(String((await eve.next()).message), /^"room" must not contain invisible/);
    eve.send({ type: 'join', room: 'ink', name: '\u0301\u0301' });
    assert.match(String((await eve.next()).message), /"name" must contain a visible character/);
    assert.deepEqual((await eve.join('ink', 'eve')).members, ['ann', 'eve'], 'still served');
  });

  test('look-alike names are taken: case, spaces, compatibility forms, Latin homoglyphs; names shown tidied', async (t) => {
    const first = await chatPeer(t, chatUrl());
    await first.join('desk', 'ann');
    const bill = await chatPeer(t, chatUrl());
    await bill.join('desk', 'Bill');
    const mary = await chatPeer(t, chatUrl());
    await mary.join('desk', 'mary');
    const eve = await chatPeer(t, chatUrl());
    const refused = async (name: string, holder: string): Promise<void> => {
      eve.send({ type: 'join', room: 'desk', name });
      const e = await eve.next();
      assert.equal(e.type, 'error', `${JSON.stringify(name)} accepted`);
      const like = holder === name.trim() ? '' : `: it looks too much like "${holder}"`;
      assert.equal(e.message, `the name "${name.trim()}" is taken in this room${like}`);
    };
    await refused(' ann ', 'ann');
    for (const name of ['Ann', 'ANN', 'ａｎｎ', '\u0430nn', 'ann'.normalize('NFKD')]) await refused(name, 'ann');
    for (const name of ['BiII', 'Bi1l', 'bill']) await refused(name, 'Bill');
    await refused('rnary', 'mary');
    // Distinct to the eye: accepted.
    const tidy = await chatPeer(t, chatUrl());
    const welcome = await tidy.join('desk', '  zoë \u00a0 \u3000 q  '.normalize('NFD'));
    assert.equal(welcome.name, 'zoë q', 'NFC, trimmed, one space per run');
    const emoji = await chatPeer(t, chatUrl());
    assert.equal((await emoji.join('desk', '👩‍💻 ❤️ dev')).name, '👩‍💻 ❤️ dev', 'emoji joiners are no impersonation');
    const other = await chatPeer(t, chatUrl());
    assert.deepEqual((await other.join('desk', 'anñ')).members, ['ann', 'Bill', 'mary', 'zoë q', '👩‍💻 ❤️ dev', 'anñ']);
  });

  test('regression: back on a new connection while the server still holds the old one: the token takes the name over, quietly', async (t) => {
    const ann = await chatPeer(t, chatUrl());
    const { token } = await ann.join('den', 'ann');
    const bob = await chatPeer(t, chatUrl());
    await bob.join('den', 'bob');
    await ann.next((e) => e.type === 'presence' && e.joined === 'bob');
    const closed = new Promise<number>((resolve) => ann.conn.once('close', (info) => resolve(info.code)));

    const back = await chatPeer(t, chatUrl());
    for (const wrong of [{}, { token: 'guessed' }]) {
      back.send({ type: 'join', room: 'den', name: 'ann', ...wrong });
      assert.match(String((await back.next()).message), /"ann" is taken/, JSON.stringify(wrong));
    }
    const welcome = await back.join('den', 'ann', { token });
    assert.deepEqual(welcome.members, ['bob', 'ann']);
    assert.notEqual(welcome.token, token, 'a fresh token for the new connection');
    assert.equal(await closed, 4000, 'the old connection is closed');
    back.send({ type: 'say', text: 'still me' });
    await bob.next((e) => e.type === 'message' && e.text === 'still me');
    const noise = bob.events.filter((e) => e.type === 'presence' && (e.left === 'ann' || e.joined === 'ann'));
    assert.deepEqual(noise, [], 'nobody is told ann left or joined');
  });

  test('a bad historyTimeout is refused at construction, naming it', () => {
    for (const historyTimeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createChat({}, { historyTimeout }), { name: 'RangeError', message: /^historyTimeout / });
    }
  });

  test('a history store that fails: the join is welcomed with "historyUnavailable", messages still flow', async (t) => {
    const down = (): Promise<never> => Promise.reject(new Error('history down'));
    const url = await chatServer(t, { hub: { history: { append: down, since: down } } });
    const ann = await chatPeer(t, url);
    ann.send({ type: 'join', room: 'r', name: 'ann' });
    ann.send({ type: 'say', text: 'queued behind the join' });
    const welcome = await ann.next();
    assert.equal(welcome.type, 'welcome');
    assert.equal(welcome.historyUnavailable, true);
    assert.deepEqual(welcome.history, []);
    assert.equal('epoch' in welcome, false, 'a store passed in has no epoch of ours');
    const msg = await ann.next(isMessage);
    assert.equal(msg.text, 'queued behind the join');
    assert.equal('offset' in msg, false, 'not recorded');
  });

  test('a history store that stalls: after historyTimeout the join is welcomed and the requests behind it drain, each message delivered once', async (t) => {
    const clock = new ManualClock();
    const reads: Array<ReturnType<typeof deferred<Recovery>>> = [];
    const appends: Array<ReturnType<typeof deferred<number>>> = [];
    const stalled: HistoryStore = {
      since: () => {
        reads.push(deferred());
        return reads.at(-1)!.promise;
      },
      append: () => {
        appends.push(deferred());
        return appends.at(-1)!.promise;
      },
    };
    const url = await chatServer(t, { hub: { history: stalled }, clock });
    const ann = await chatPeer(t, url);
    ann.send({ type: 'join', room: 'r', name: 'ann' });
    ann.send({ type: 'say', text: 'one' });
    ann.send({ type: 'say', text: 'two' });
    await waitUntil(() => reads.length === 1, 'the history read');
    clock.advance(DEFAULT_HISTORY_TIMEOUT);
    const welcome = await ann.next();
    assert.equal(welcome.type, 'welcome');
    assert.equal(welcome.historyUnavailable, true);
    await waitUntil(() => appends.length === 1, 'the first message handed to the store');
    assert.equal(appends.length, 1, 'the second waits for the first');
    clock.advance(DEFAULT_HISTORY_TIMEOUT);
    await waitUntil(() => appends.length === 2, 'the second message handed to the store after the first timed out');
    appends[1]!.resolve(7);
    const two = await ann.next(isMessage);
    assert.deepEqual([two.text, two.offset], ['two', 7]);
    // The first one fails in the end: delivered unrecorded, once.
    appends[0]!.reject(new Error('gave up'));
    const one = await ann.next(isMessage);
    assert.equal(one.text, 'one');
    assert.equal('offset' in one, false);
    ann.send({ type: 'say', text: 'three' });
    await waitUntil(() => appends.length === 3, 'the third message handed to the store');
    appends[2]!.resolve(8);
    assert.equal((await ann.next(isMessage)).text, 'three', 'and nothing twice before it');
  });
});
