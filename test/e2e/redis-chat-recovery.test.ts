// The chat page in chromium across a node restart: two demo nodes share rooms through Redis; the node a page is on
// goes away, the others keep talking, the node comes back on the same port, and the page — re-joining with the last
// offset it saw — shows every message sent while it was away, once each and in order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { skipWithoutRedis, startRedisServer } from '../helpers/redis-server.js';
import {
  demoFor,
  errorsOf,
  joinChat,
  messageTexts,
  PHONE,
  screenshot,
  skipWithoutChromium,
  startDemo,
  systemLines,
  until,
  useBrowser,
} from './browser.js';

const skip = skipWithoutChromium || skipWithoutRedis;

describe('chat page recovery across a node restart', { skip }, () => {
  const browser = useBrowser();

  test('a page that reconnects gets every message sent while it was away', async (t) => {
    const redis = await startRedisServer(t);
    let nodeA = await startDemo({ redis: redis.url });
    const nodeB = await startDemo({ redis: redis.url });
    t.after(() => nodeB.close());
    t.after(() => nodeA.close());
    const ann = await browser.newPage();
    const bob = await browser.newPage();
    await Promise.all([ann.goto(`${nodeB.url}/`), bob.goto(`${nodeA.url}/`)]);
    await joinChat(ann, 'ann', 'tea');
    await joinChat(bob, 'bob', 'tea');

    const say = async (text: string): Promise<void> => {
      await ann.fill('#text', text);
      await ann.press('#text', 'Enter');
      await until(
        `"${text}" in ann’s page`,
        () => messageTexts(ann),
        (m) => m.includes(text),
      );
    };
    await say('before');
    await until(
      '"before" in bob’s page',
      () => messageTexts(bob),
      (m) => m.includes('before'),
    );

    // Bob's node goes away; ann goes on talking on hers.
    const port = nodeA.port;
    await nodeA.close();
    await bob.waitForSelector('body:not([data-state="open"])');
    for (const text of ['while away 1', 'while away 2', 'while away 3']) await say(text);

    nodeA = await startDemo({ redis: redis.url, port });
    await bob.waitForSelector('body[data-state="open"]', { timeout: 20_000 });
    await bob.waitForSelector('body[data-joined="tea"]');
    await say('after');
    const texts = await until(
      'everything in bob’s page',
      () => messageTexts(bob),
      (m) => m.includes('after'),
    );
    assert.deepEqual(texts, ['before', 'while away 1', 'while away 2', 'while away 3', 'after']);
    // Recovered through the re-join with `since` (a fresh join would have cleared the page and said "You joined").
    const system = await bob.$$eval('#messages li.system', (lis) => lis.map((li) => li.textContent ?? ''));
    assert.deepEqual(system, ['You joined #tea as bob.', 'Back in #tea.']);
    assert.deepEqual(errorsOf(bob), []);
  });

  test('Redis gone: a join is still welcomed (after the history timeout at most), and the page says the history is unavailable', async (t) => {
    const redis = await startRedisServer(t);
    const node = await demoFor(t, { redis: redis.url });
    const page = await browser.open(`${node.url}/`, PHONE);
    await page.waitForSelector('body[data-state="open"]');
    await redis.stop();
    await joinChat(page, 'fay', 'dark');
    assert.deepEqual(await systemLines(page), [
      'You joined #dark as fay.',
      'The history is unavailable right now: new messages appear as they arrive.',
    ]);
    assert.match(
      (await page.textContent('#empty')) ?? '',
      /cannot be read right now/,
      'no claim that the room is empty',
    );
    assert.equal(await page.locator('#messages .notice').count(), 1);
    await screenshot(page, 'chat-history-unavailable');
    assert.deepEqual(errorsOf(page), []);
  });
});
