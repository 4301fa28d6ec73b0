// The chat page in Debian's chromium: two pages chat through the server, presence follows joins and leaves, and it
// all works over permessage-deflate, which Chromium always offers, in both of the server's compression modes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  errorsOf,
  joinChat,
  members,
  messageTexts,
  screenshot,
  skipWithoutChromium,
  startDemo,
  until,
  useBrowser,
} from './browser.js';

describe('chat page in chromium', { skip: skipWithoutChromium }, () => {
  const browser = useBrowser();

  test('two pages: names, join, presence shows both, messages appear in the other page', async (t) => {
    const demo = await startDemo(); // compression 'dedicated', as `switchboard serve` runs by default
    t.after(() => demo.close());
    const ann = await browser.newPage();
    const bob = await browser.newPage();
    await Promise.all([ann.goto(`${demo.url}/`), bob.goto(`${demo.url}/`)]);

    await joinChat(ann, 'ann', 'lobby');
    await joinChat(bob, 'bob', 'lobby');
    await until(
      'both names in ann’s presence list',
      () => members(ann),
      (m) => m.length === 2,
    );
    assert.deepEqual(await members(ann), ['ann (you)', 'bob']);
    assert.deepEqual(await members(bob), ['ann', 'bob (you)']);
    assert.match((await ann.textContent('#room-title')) ?? '', /#lobby · 2 present/);

    await ann.fill('#text', 'hello from ann <b>not bold</b>');
    await ann.press('#text', 'Enter');
    await until(
      'ann’s message in bob’s page',
      () => messageTexts(bob),
      (m) => m.includes('hello from ann <b>not bold</b>'),
    );
    assert.equal(await bob.locator('#messages b').count(), 0, 'text is shown as text, never as markup');
    await bob.fill('#text', 'hi ann 👋');
    await bob.click('#send');
    await until(
      'bob’s reply in ann’s page',
      () => messageTexts(ann),
      (m) => m.includes('hi ann 👋'),
    );
    assert.deepEqual(await messageTexts(ann), await messageTexts(bob));
    assert.equal(await ann.inputValue('#text'), '', 'the input is cleared after sending');

    // The server refuses a taken name with a clear error shown on the page.
    const eve = await browser.newPage();
    await eve.goto(`${demo.url}/`);
    await eve.waitForSelector('body[data-state="open"]');
    await eve.fill('#name', 'ann');
    await eve.click('#join');
    await until(
      'the error shown to eve',
      () => eve.textContent('#join-error'),
      (s) => /"ann" is taken/.test(s ?? ''),
    );
    await screenshot(ann, 'chat-ann');

    await bob.close();
    await until(
      'bob gone from ann’s presence list',
      () => members(ann),
      (m) => m.length === 1,
    );
    assert.deepEqual(await members(ann), ['ann (you)']);
    await until(
      'the chat endpoint down to two sockets',
      () => demo.stats().chat!.connectionsOpen,
      (n) => n === 2,
    );
    assert.deepEqual(errorsOf(ann), []);
    await eve.close();
    await ann.close();
  });

  for (const compression of ['dedicated', 'shared'] as const) {
    test(`permessage-deflate negotiated with Chromium, server compression '${compression}': chat intact and compressed`, async (t) => {
      const demo = await startDemo({ compression });
      t.after(() => demo.close());
      const a = await browser.newPage();
      const b = await browser.newPage();
      await Promise.all([a.goto(`${demo.url}/`), b.goto(`${demo.url}/`)]);
      await joinChat(a, 'alpha', 'zip');
      await joinChat(b, 'beta', 'zip');
      for (const page of [a, b]) {
        const ext = await page.evaluate(() => document.body.dataset.extensions ?? '');
        assert.match(ext, /^permessage-deflate/, 'Chromium offered it and the server accepted');
        if (compression === 'shared') assert.match(ext, /server_no_context_takeover/);
        assert.match((await page.textContent('#status')) ?? '', /compressed/);
      }
      const before = demo.stats().chat!.bytesOut;
      // Over the default threshold (1 KiB) as a chat message while within the chat's 500 characters (3-byte ✓),
      // repetitive enough to shrink, with non-ASCII to check UTF-8.
      const text = `${'✓✓✓✓✓✓✓✓ ünïcödé — '.repeat(25)}end`;
      await a.fill('#text', text);
      await a.press('#text', 'Enter');
      for (const page of [a, b]) {
        await until(
          'the long message in both pages',
          () => messageTexts(page),
          (m) => m.includes(text),
        );
      }
      const wire = demo.stats().chat!.bytesOut - before;
      const plain =
        2 * Buffer.byteLength(JSON.stringify({ type: 'message', room: 'zip', name: 'alpha', text, ts: Date.now() }));
      assert.ok(wire < plain / 3, `compressed on the wire: ${wire} bytes sent for ${plain} bytes of messages`);
      // A second message through the same compression contexts still arrives intact.
      await b.fill('#text', `${text} again`);
      await b.press('#text', 'Enter');
      await until(
        'the second message in a',
        () => messageTexts(a),
        (m) => m.includes(`${text} again`),
      );
      assert.deepEqual(errorsOf(a), []);
      assert.deepEqual(errorsOf(b), []);
      await a.close();
      await b.close();
    });
  }
});
