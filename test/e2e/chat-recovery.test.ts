// The chat page in Debian's chromium going offline and coming back: across a real server restart (an honest offline
// state, "Retry now", and no false "messages lost"), across a dropped network with the server up (what was said
// meanwhile appears, once), and when the history was trimmed below the last offset seen (the warning, this time true).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { CHAT_LIMITS } from '../../apps/chat-protocol.js';
import type { DemoServer } from '../../apps/demo-server.js';
import { chatPeer, talk } from '../helpers/chat-peer.js';
import {
  box,
  demoFor,
  errorsOf,
  hurryReconnect,
  joinChat,
  LARGE,
  members,
  messageTexts,
  PHONE,
  screenshot,
  setHidden,
  skipWithoutChromium,
  startDemo,
  systemLines,
  until,
  useBrowser,
} from './browser.js';
import { tcpProxy } from './tcp-proxy.js';

const LOST = 'Some messages from while you were away are no longer kept.';

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await until(
    `"${text}" shown`,
    () => messageTexts(page),
    (m) => m.includes(text),
  );
}

/** Back from offline: "Retry now" pressed (the page would get there by itself, later) and the room re-joined. */
async function retryUntilBack(page: Page, room: string): Promise<void> {
  await hurryReconnect(page);
  await page.waitForSelector(`body[data-joined="${room}"]`);
}

describe('chat page offline and back', { skip: skipWithoutChromium }, () => {
  const browser = useBrowser();

  for (const viewport of [PHONE, LARGE]) {
    test(`regression at ${viewport.width}×${viewport.height}: a server restart reads as offline then back, with "Retry now" and no false "messages lost"`, async (t) => {
      let demo: DemoServer = await startDemo();
      t.after(() => demo.close());
      const page = await browser.newPage();
      await page.setViewportSize(viewport);
      await page.clock.install();
      await page.goto(`${demo.url}/`);
      await joinChat(page, 'carol', 'restart');
      await say(page, 'before the restart');

      const port = demo.port;
      await demo.close();
      await page.waitForSelector('body[data-state="waiting"]');
      assert.equal(await page.isVisible('#banner'), true);
      assert.match(
        (await page.textContent('#banner-text')) ?? '',
        /^Offline since .+\. Reconnecting in \d+ s… You will be back in #restart by yourself\.$/,
      );
      assert.equal(await page.isVisible('#retry'), true, 'a "Retry now" button');
      assert.equal(await page.textContent('#members-toggle'), '#restart · offline', 'still in the room, offline');
      assert.equal(await page.evaluate(() => document.body.dataset.joined), '', 'not shown as joined while offline');
      assert.equal(await page.isEnabled('#text'), true, 'a message can still be written');
      assert.equal(await page.isEnabled('#send'), false, 'but not sent');
      await page.fill('#text', 'a draft');
      await page.press('#text', 'Enter');
      assert.match((await page.textContent('#say-error')) ?? '', /^Not connected: your message stays here/);
      assert.equal(await page.inputValue('#text'), 'a draft');
      await screenshot(page, 'chat-offline');

      // From here the page's own timers stand still (an attempt they fire on the way fails: no server yet), so only
      // "Retry now" can bring it back.
      await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 500);
      await page.waitForSelector('body[data-state="waiting"]');
      demo = await startDemo({ port });
      await page.click('#retry'); // a real click: the page has nothing else that could bring it back now
      await page.waitForSelector('body[data-joined="restart"]');
      assert.equal(await page.isVisible('#banner'), false);
      assert.deepEqual(await systemLines(page), [
        'You joined #restart as carol.',
        'Back in #restart (the server restarted).',
      ]);
      assert.equal(await page.locator('#messages .warning, #messages .notice').count(), 0, 'nothing reported lost');
      assert.deepEqual(await messageTexts(page), ['before the restart']);
      await page.press('#text', 'Enter');
      await until(
        'the draft sent once back',
        () => messageTexts(page),
        (m) => m.includes('a draft'),
      );
      await screenshot(page, 'chat-recovered');
      assert.deepEqual(errorsOf(page), []);
      await page.close();
    });
  }

  test('a dropped network: what was said meanwhile appears, once, no warning; a long drop past the history: the warning', async (t) => {
    const demo = await demoFor(t);
    const proxy = await tcpProxy(demo.port);
    t.after(() => proxy.close());
    const chatUrl = `${demo.url.replace('http:', 'ws:')}/chat`;
    const page = await browser.open(`${proxy.url}/`, PHONE);
    await joinChat(page, 'dora', 'gap');
    const ed = await chatPeer(t, chatUrl);
    await ed.join('gap', 'ed');
    ed.send({ type: 'say', text: 'hello dora' });
    await until(
      'ed’s message',
      () => messageTexts(page),
      (m) => m.includes('hello dora'),
    );

    proxy.cut();
    await page.waitForSelector('body:not([data-state="open"])');
    for (const text of ['while away 1', 'while away 2', 'while away 3']) {
      ed.send({ type: 'say', text });
      await ed.next((e) => e.type === 'message' && e.text === text);
    }
    proxy.restore();
    await retryUntilBack(page, 'gap');
    await until(
      'what was said meanwhile',
      () => messageTexts(page),
      (m) => m.includes('while away 3'),
    );
    assert.deepEqual(await messageTexts(page), ['hello dora', 'while away 1', 'while away 2', 'while away 3']);
    assert.deepEqual((await systemLines(page)).slice(-1), ['Back in #gap.']);
    assert.equal(await page.locator('#messages .warning, #messages .notice').count(), 0);

    // Away while more was said than the room keeps: the page's last offset is below what is left.
    proxy.cut();
    await page.waitForSelector('body:not([data-state="open"])');
    await talk(() => chatPeer(t, chatUrl), 'gap', CHAT_LIMITS.historyPerRoom + 5);
    proxy.restore();
    await retryUntilBack(page, 'gap');
    await page.waitForSelector('#messages .warning');
    assert.equal(await page.textContent('#messages .warning'), LOST);
    const texts = await until(
      'the messages still kept',
      () => messageTexts(page),
      (m) => m.includes(`said ${CHAT_LIMITS.historyPerRoom + 4}`),
    );
    assert.equal(texts.filter((m) => m.startsWith('said ')).length, CHAT_LIMITS.historyPerRoom, 'all that is kept');
    await screenshot(page, 'chat-gap');
    assert.deepEqual(errorsOf(page), []);
    await page.close();
  });

  test('regression: a dropped network the server has not noticed yet: the page gets its name back at once', async (t) => {
    const demo = await demoFor(t);
    const proxy = await tcpProxy(demo.port);
    t.after(() => proxy.close());
    const page = await browser.open(`${proxy.url}/`);
    await joinChat(page, 'gil', 'ghost');
    proxy.cut(false); // the server still holds gil's old connection, until its heartbeat gives up on it
    await page.waitForSelector('body:not([data-state="open"])');
    proxy.restore();
    await retryUntilBack(page, 'ghost');
    assert.equal(await page.textContent('#join-error'), '', 'no "name taken"');
    assert.deepEqual(await systemLines(page), ['You joined #ghost as gil.', 'Back in #ghost.']);
    assert.deepEqual(await members(page), ['gil (you)']);
    assert.deepEqual(errorsOf(page), []);
    await page.close();
  });

  test('errors where the user acted, the unread count in the tab title while hidden, Esc clears the message', async (t) => {
    const demo = await demoFor(t);
    const ann = await browser.open(`${demo.url}/`);
    await joinChat(ann, 'ann', 'desk');

    const eve = await browser.open(`${demo.url}/`, PHONE);
    await eve.waitForSelector('body[data-state="open"]');
    await eve.fill('#name', 'Ann');
    await eve.fill('#room', 'desk');
    await eve.click('#join');
    await eve.waitForSelector('#join-error:not(:empty)');
    assert.equal(
      await eve.textContent('#join-error'),
      'the name "Ann" is taken in this room: it looks too much like "ann"',
    );
    const error = await box(eve, '#join-error');
    const button = await box(eve, '#join');
    const panel = await box(eve, '#join-panel');
    assert.ok(error.y >= button.y + button.height - 1 && error.y - (button.y + button.height) < 40, 'right under Join');
    assert.ok(error.y + error.height <= panel.y + panel.height, 'inside the join panel');
    await screenshot(eve, 'chat-name-taken');

    await setHidden(ann, true);
    const bob = await chatPeer(t, `${demo.url.replace('http:', 'ws:')}/chat`);
    await bob.join('desk', 'bob');
    for (const text of ['one', 'two']) bob.send({ type: 'say', text });
    await until(
      'the unread count in the title',
      () => ann.title(),
      (s) => s === '(2) switchboard · chat',
    );
    await setHidden(ann, false);
    assert.equal(await ann.title(), 'switchboard · chat');

    await ann.fill('#text', 'never mind');
    await ann.press('#text', 'Escape');
    assert.equal(await ann.inputValue('#text'), '');
    for (const p of [ann, eve]) assert.deepEqual(errorsOf(p), []);
    await ann.close();
    await eve.close();
  });
});
