// Both demo pages laid out in Debian's chromium on a phone (390×844) and a large screen (1920×1080), checked by
// bounding boxes: nothing wider than the viewport, the message column most of a phone's width with the member list
// folded, whole words on a line, and dashboard charts that fill their cards. Screenshots of each state are saved.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  box,
  errorsOf,
  joinChat,
  LARGE,
  overflow,
  PHONE,
  screenshot,
  skipWithoutChromium,
  demoFor,
  until,
  useBrowser,
} from './browser.js';

const LONG = 'a sentence of ordinary words that must wrap between words and never inside one, from ann';

/** Words of `selector`'s text that the layout split over two lines (the "fro m" bug). */
function brokenWords(page: Page, selector: string): Promise<string[]> {
  return page.$eval(selector, (el) => {
    const node = el.firstChild;
    if (!node || node.nodeType !== Node.TEXT_NODE) return ['(no text)'];
    const text = node.textContent ?? '';
    const broken: string[] = [];
    for (const m of text.matchAll(/\S+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (lines.size > 1) broken.push(m[0]);
    }
    return broken;
  });
}

async function assertFits(page: Page, what: string): Promise<void> {
  const o = await overflow(page);
  assert.ok(o.scrollWidth <= o.width, `${what}: the page scrolls sideways (${o.scrollWidth} > ${o.width})`);
  assert.deepEqual(o.outside, [], `${what}: elements outside the viewport`);
}

/** Each chart's canvas height over its card's content height (the card minus its padding). */
function chartFill(page: Page): Promise<Record<string, number>> {
  return page.$$eval('.card', (cards) =>
    Object.fromEntries(
      cards.map((card) => {
        const style = getComputedStyle(card);
        const content = card.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
        const plots = [...card.querySelectorAll('canvas')];
        // The ticker's four sparklines share the card: their rows together.
        const drawn =
          plots.length === 1
            ? plots[0]!.getBoundingClientRect().height
            : card.querySelector('#ticker')!.getBoundingClientRect().height;
        return [(card as HTMLElement).dataset.chart ?? '?', drawn / content];
      }),
    ),
  );
}

describe('page layout on a phone and a large screen', { skip: skipWithoutChromium }, () => {
  const browser = useBrowser();

  for (const viewport of [PHONE, LARGE]) {
    const phone = viewport === PHONE;
    test(`chat at ${viewport.width}×${viewport.height}: fits, ${phone ? 'members folded, messages ≥ 60 % wide' : 'members beside the messages'}, whole words`, async (t) => {
      const demo = await demoFor(t);
      const page = await browser.open(`${demo.url}/`, viewport);
      await page.waitForSelector('body[data-state="open"]');
      assert.match((await page.textContent('#empty')) ?? '', /Pick a name and a room/);
      await screenshot(page, 'chat-start');
      await assertFits(page, 'before joining');

      await joinChat(page, 'ann', 'quiet');
      assert.match(
        (await page.textContent('#empty')) ?? '',
        /No messages in #quiet yet/,
        'an empty room says what to do',
      );
      await screenshot(page, 'chat-empty-room');
      await page.fill('#text', LONG);
      await page.press('#text', 'Enter');
      await page.waitForSelector('#messages li .text');
      assert.equal(await page.isVisible('#empty'), false, 'the hint goes once there is a message');
      const other = await browser.open(`${demo.url}/`);
      await joinChat(other, 'bob with a rather long name', 'quiet');
      await until(
        'two present',
        () => page.textContent('#members-toggle'),
        (s) => /2 present/.test(s ?? ''),
      );
      await assertFits(page, 'in a room');
      assert.deepEqual(await brokenWords(page, '#messages li .text'), [], 'no word broken over two lines');

      const width = viewport.width;
      const messages = await box(page, '#messages-panel');
      for (const link of ['nav a[href="/"]', 'nav a[href="/dashboard"]']) {
        const b = await box(page, link);
        assert.ok(b.x >= 0 && b.x + b.width <= width, `${link} fully shown: ${JSON.stringify(b)}`);
      }
      if (phone) {
        assert.ok(messages.width >= 0.6 * width, `message column ${messages.width} px of ${width}`);
        assert.equal(await page.isVisible('#members'), false, 'the member list is folded');
        await screenshot(page, 'chat-in-room');
        await page.click('#members-toggle');
        assert.equal(await page.isVisible('#members'), true, 'and unfolds on a tap');
        assert.equal(await page.getAttribute('#members-toggle', 'aria-expanded'), 'true');
        await screenshot(page, 'chat-members-open');
        await page.click('#members-toggle');
        assert.equal(await page.isVisible('#members'), false);
      } else {
        const members = await box(page, '#members');
        assert.ok(members.x >= messages.x + messages.width, 'members beside the messages');
        assert.ok(messages.width >= 0.6 * (await box(page, 'main')).width, 'most of the room for the messages');
        await screenshot(page, 'chat-in-room');
      }
      // The page fills the screen without scrolling; the message list scrolls inside it.
      const scroll = await page.evaluate(() => document.documentElement.scrollHeight);
      assert.ok(scroll <= viewport.height, `chat page ${scroll} px tall in a ${viewport.height} px viewport`);
      assert.deepEqual(errorsOf(page), []);
      await other.close();
      await page.close();
    });

    test(`dashboard at ${viewport.width}×${viewport.height}: fits, every chart ≥ 70 % of its card, hover reads out a sample`, async (t) => {
      const demo = await demoFor(t, { dashboardInterval: 100 });
      const page = await browser.open(`${demo.url}/dashboard`, viewport);
      await until(
        'a few samples drawn',
        () => page.evaluate(() => Number(document.body.dataset.points ?? 0)),
        (n) => n >= 8,
      );
      await assertFits(page, 'dashboard');
      const fill = await chartFill(page);
      assert.deepEqual(Object.keys(fill), ['connections', 'messages', 'bytes', 'memory', 'lag', 'ticker']);
      for (const [card, share] of Object.entries(fill)) {
        assert.ok(share >= 0.7, `${card}: the chart fills ${Math.round(share * 100)} % of its card`);
      }
      if (!phone) {
        const height = await page.evaluate(() => document.documentElement.scrollHeight);
        assert.ok(height <= viewport.height, `all six cards on one screen (${height} px)`);
        const cards = await page.$$eval('.card', (cs) => cs.map((c) => c.getBoundingClientRect().width));
        assert.ok(Math.min(...cards) >= 500, `cards in three columns, not five narrow ones: ${cards}`);
      }
      await screenshot(page, 'dashboard');
      assert.equal(await page.textContent('#ticker-span'), 'change over 1 min');
      await page.click('[data-window="300000"]');
      assert.equal(await page.getAttribute('[data-window="300000"]', 'aria-pressed'), 'true');
      assert.equal(await page.getAttribute('[data-window="60000"]', 'aria-pressed'), 'false');
      assert.equal(await page.textContent('#ticker-span'), 'change over 5 min', 'the span shown is the one chosen');

      // Hovering a chart reads out that instant in every card.
      const plot = await box(page, '#memory-chart');
      await page.hover('#memory-chart', { position: { x: plot.width * 0.6, y: plot.height / 2 } });
      const readout = await until(
        'the hovered time in the readout',
        () => page.textContent('[data-chart="memory"] .value small'),
        (s) => /^at \d\d:\d\d:\d\d/.test(s ?? ''),
      );
      assert.match(
        (await page.textContent('[data-chart="lag"] .value small')) ?? '',
        /^at /,
        `${readout} in all cards`,
      );
      await screenshot(page, 'dashboard-hover');
      await page.hover('h1');
      await until(
        'the live readout back',
        () => page.textContent('[data-chart="memory"] .value small'),
        (s) => s === 'RSS / heap used',
      );
      assert.deepEqual(errorsOf(page), []);
      await page.close();
    });
  }
});
