// The dashboard page in Debian's chromium (server-pushed samples redraw numbers and charts), and both pages coming
// back by themselves, with backoff, after the server restarts on the same port.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { DemoServer } from '../../apps/demo-server.js';
import { connect } from '../../src/index.js';
import { inboxOf } from '../helpers/inbox.js';
import {
  demoFor,
  errorsOf,
  hurryReconnect,
  joinChat,
  LARGE,
  PHONE,
  members,
  messageTexts,
  screenshot,
  skipWithoutChromium,
  startDemo,
  until,
  useBrowser,
} from './browser.js';
import { tcpProxy } from './tcp-proxy.js';

const text = async (page: Page, selector: string): Promise<string> => (await page.textContent(selector)) ?? '';
const samplesSeen = (page: Page): Promise<number> => page.evaluate(() => Number(document.body.dataset.samples));
const state = (page: Page): Promise<string> => page.evaluate(() => document.body.dataset.state ?? '');
/** Samples the dashboard keeps (and draws). */
const points = (page: Page): Promise<number> => page.evaluate(() => Number(document.body.dataset.points ?? 0));
/** A cheap fingerprint of a canvas's pixels. */
const canvasPixels = (page: Page, selector: string): Promise<string> =>
  page.$eval(selector, (c) => {
    const canvas = c as HTMLCanvasElement;
    return canvas.width > 0 ? canvas.toDataURL() : '';
  });

describe('dashboard and reconnection in chromium', { skip: skipWithoutChromium }, () => {
  const browser = useBrowser();

  test('the dashboard draws server-pushed samples, every second, in every open dashboard', async (t) => {
    const demo = await startDemo(); // the default interval: one sample a second
    t.after(() => demo.close());
    // Some traffic for the message and byte rates.
    const echo = await connect(`${demo.url.replace('http', 'ws')}/echo`);
    t.after(() => echo.terminate());
    const pages = [await browser.newPage(), await browser.newPage()];
    await Promise.all(pages.map((p) => p.goto(`${demo.url}/dashboard`)));
    const [one, two] = pages as [Page, Page];

    await until(
      'a first sample',
      () => samplesSeen(one),
      (n) => n >= 2,
    );
    const price = (): Promise<string> => text(one, '.ticker[data-symbol="SWB"] .price');
    const firstPrice = await price();
    const firstChart = await canvasPixels(one, '#memory-chart');
    assert.notEqual(firstChart, '');
    for (let i = 0; i < 20; i++) echo.send(`load ${i}`);
    await until('the ticker price to move', price, (p) => p !== firstPrice, 5_000);
    await until(
      'the memory chart to be redrawn',
      () => canvasPixels(one, '#memory-chart'),
      (c) => c !== firstChart,
      5_000,
    );
    // Both dashboards and the echo client are counted by the server it watches.
    await until(
      'three open connections shown',
      () => text(one, '#connections'),
      (s) => s === '3',
      5_000,
    );
    await until(
      'the echo traffic in the message rate',
      () => text(one, '#message-rate'),
      (s) => !/^0 \/ 0$/.test(s),
      5_000,
    );
    assert.match(await text(one, '#memory'), /^[\d.]+ MB \/ [\d.]+ MB$/);
    assert.match(await text(one, '#lag'), /^[\d.]+ ms \/ [\d.]+ ms$/);
    await until(
      'samples in the second dashboard too',
      () => samplesSeen(two),
      (n) => n >= 3,
    );
    assert.equal(await one.locator('.ticker').count(), 4);
    await screenshot(one, 'dashboard');
    for (const p of pages) assert.deepEqual(errorsOf(p), []);
    await Promise.all(pages.map((p) => p.close()));
  });

  test('pages reconnect with backoff after the server restarts on the same port, and the chat re-joins', async (t) => {
    let demo: DemoServer = await startDemo({ dashboardInterval: 200 });
    t.after(() => demo.close());
    const port = demo.port;
    const chat = await browser.newPage();
    const dash = await browser.newPage();
    await chat.goto(`${demo.url}/`);
    await dash.goto(`${demo.url}/dashboard`);
    await joinChat(chat, 'carol', 'restart');
    await until(
      'dashboard samples',
      () => samplesSeen(dash),
      (n) => n >= 1,
    );

    const pointsBefore = await points(dash);
    await demo.close();
    // Both pages notice (the server said 1001 going away) and show it while they back off.
    for (const page of [chat, dash])
      await until(
        'the page to show it is offline',
        () => state(page),
        (s) => s !== 'open',
      );
    await until(
      'a retry scheduled',
      () => text(chat, '#status'),
      (s) => /retrying in \d/.test(s),
    );
    assert.equal(await chat.evaluate(() => document.body.dataset.joined), '', 'not shown as joined while offline');
    // Let a reconnection attempt fail against the closed port before the server comes back: the next wait is the
    // second exponential step, half of it fixed and half jitter (500 ms base: 500–1000 ms).
    const backoff = (): Promise<{ attempt: number; delay: number; state: string }> =>
      chat.evaluate(() => ({
        attempt: Number(document.body.dataset.attempt),
        delay: Number(document.body.dataset.retryDelay),
        state: document.body.dataset.state ?? '',
      }));
    const second = await until(
      'a failed reconnection attempt',
      backoff,
      (b) => b.attempt >= 2 && b.state === 'waiting',
    );
    if (second.attempt === 2) assert.ok(second.delay >= 500 && second.delay <= 1000, `second delay ${second.delay} ms`);

    demo = await startDemo({ port, dashboardInterval: 200 });
    t.after(() => demo.close());
    for (const page of [chat, dash])
      await until(
        'the page connected again',
        () => state(page),
        (s) => s === 'open',
        15_000,
      );
    await until(
      'carol back in her room',
      () => members(chat),
      (m) => m.includes('carol (you)'),
    );
    const samples = await samplesSeen(dash);
    await until(
      'fresh samples after the restart',
      () => samplesSeen(dash),
      (n) => n > samples + 1,
    );
    // The samples from before the restart stay on the charts, the outage a hole in the lines, not a straight line.
    const kept = await dash.evaluate(() => ({
      points: Number(document.body.dataset.points),
      gaps: Number(document.body.dataset.gaps),
    }));
    assert.ok(
      kept.points >= pointsBefore + 2,
      `${kept.points} samples kept after the restart (${pointsBefore} before)`,
    );
    assert.ok(kept.gaps >= 1, 'the outage is a hole');

    // The new server sees the page as a member and delivers to it.
    const other = await connect(`${demo.url.replace('http', 'ws')}/chat`);
    t.after(() => other.terminate());
    other.send(JSON.stringify({ type: 'join', room: 'restart', name: 'dave' }));
    await until(
      'dave in carol’s presence list',
      () => members(chat),
      (m) => m.includes('dave'),
    );
    other.send(JSON.stringify({ type: 'say', text: 'welcome back' }));
    await until(
      'the message after the restart',
      () => messageTexts(chat),
      (m) => m.includes('welcome back'),
    );
    assert.deepEqual(errorsOf(chat), []);
    assert.deepEqual(errorsOf(dash), []);
    await chat.close();
    await dash.close();
  });

  test('a dropped network: the charts show their data as stale, then come back whole (the server resends what was missed)', async (t) => {
    const interval = 100;
    const demo = await demoFor(t, { dashboardInterval: interval });
    const proxy = await tcpProxy(demo.port);
    t.after(() => proxy.close());
    const page = await browser.open(`${proxy.url}/dashboard`, LARGE);
    await until(
      'samples drawn',
      () => points(page),
      (n) => n >= 5,
    );
    assert.equal(await page.evaluate(() => document.body.dataset.stale), undefined, 'live');

    // A dashboard straight to the server counts the samples made while the page is cut off.
    const direct = await connect(`${demo.url.replace('http', 'ws')}/dashboard`);
    t.after(() => direct.terminate());
    const made = inboxOf(direct, 5_000, 'a dashboard sample');
    proxy.cut();
    await page.waitForSelector('body[data-stale]');
    assert.match(await text(page, '#banner-text'), /^Offline since .+ The charts show data up to .+\.$/);
    for (let i = 0; i < 12; i++) await made.next();
    await screenshot(page, 'dashboard-offline');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'dashboard-offline');

    const before = await points(page);
    proxy.restore();
    await hurryReconnect(page);
    await page.waitForSelector('body[data-state="open"]');
    await until(
      'samples again',
      () => page.evaluate(() => document.body.dataset.stale),
      (s) => s === undefined,
    );
    const kept = await page.evaluate(() => ({
      points: Number(document.body.dataset.points),
      first: Number(document.body.dataset.first),
      last: Number(document.body.dataset.last),
    }));
    assert.ok(kept.points >= before + 10, `the missed samples came back: ${before} → ${kept.points}`);
    // Whole: every sample the server made between the page's first and last is on the page (under load a sample
    // can come late, so the times themselves may have holes; none may be missing).
    const serverTimes = (): number[] =>
      made.messages.flatMap((m) => {
        const e = JSON.parse(String(m.data)) as { type: string; t: number; samples?: Array<{ t: number }> };
        return e.samples ? e.samples.map((x) => x.t) : [e.t];
      });
    const times = await until('the server’s samples up to the page’s last one', serverTimes, (ts) =>
      ts.some((x) => x >= kept.last),
    );
    const between = new Set(times.filter((x) => x >= kept.first && x <= kept.last));
    assert.equal(kept.points, between.size, 'none missing');
    assert.deepEqual(errorsOf(page), []);
    await page.close();
  });
});
