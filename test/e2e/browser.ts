// Debian's chromium driven by playwright-core for the browser tests: never a downloaded browser, a fresh profile per
// launch (removed on close), no network beyond 127.0.0.1, and a page-state poller with a deadline instead of sleeps.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { type DemoOptions, type DemoServer, startDemoServer } from '../../apps/demo-server.js';
import { TEST_DEMO_OPTIONS } from '../helpers/demo.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
/**
 * The `skip` option of a suite that needs chromium: skipped (with this reason) on a developer machine without it, but
 * never under CI, where .ci/run installs it — there a missing browser must fail, not pass quietly.
 */
export const skipWithoutChromium =
  haveChromium || process.env.CI ? false : 'no /usr/bin/chromium (apt-get install chromium)';
/** Bound on every wait in these tests. */
export const WAIT = 10_000;

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export interface TestBrowser extends Pick<Browser, 'newPage'> {
  /** A new page of the given size (default 1100×720) at `url`. */
  open(url: string, viewport?: { width: number; height: number }): Promise<Page>;
}

/** Launches one browser before the enclosing suite's tests and closes it after them; use it inside tests only. */
export function useBrowser(): TestBrowser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  const newPage = (): Promise<Page> => {
    if (!browser) throw new Error('the browser is not launched yet (use it inside a test)');
    return browser.newPage();
  };
  return {
    newPage,
    async open(url, viewport) {
      const page = await newPage();
      if (viewport) await page.setViewportSize(viewport);
      await page.goto(url);
      return page;
    },
  };
}

export async function launch(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'switchboard-e2e-'));
  // The profile directory is set through launchPersistentContext (playwright refuses --user-data-dir in args).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport: { width: 1100, height: 720 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(WAIT);
  return {
    context,
    newPage: async () => {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text()))
          errors.push(m.text());
      });
      pageErrors.set(page, errors);
      return page;
    },
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const pageErrors = new WeakMap<Page, string[]>();
/** Script errors a page raised (uncaught exceptions, console errors other than expected connection failures). */
export function errorsOf(page: Page): string[] {
  return pageErrors.get(page) ?? [];
}

export function demoOptions(overrides: Partial<DemoOptions> = {}): DemoOptions {
  return {
    ...TEST_DEMO_OPTIONS,
    maxMessageSize: 1 << 20,
    compression: 'dedicated', // what `switchboard serve` uses by default
    shutdownTimeout: 1000,
    ...overrides,
  };
}

export function startDemo(overrides: Partial<DemoOptions> = {}): Promise<DemoServer> {
  return startDemoServer(demoOptions(overrides));
}

/** A demo server for one test, closed when the test ends. */
export async function demoFor(t: TestContext, overrides: Partial<DemoOptions> = {}): Promise<DemoServer> {
  const demo = await startDemo(overrides);
  t.after(() => demo.close());
  return demo;
}

/** Polls `read` until `ok` holds or the deadline passes; returns the last value read. */
export async function until<T>(
  what: string,
  read: () => Promise<T> | T,
  ok: (v: T) => boolean,
  timeout = WAIT,
): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: T = await read();
  let delay = 20;
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
    last = await read();
  }
  return last;
}

/** Joins the chat in `page` (already at the chat page) and waits for the server's welcome. */
export async function joinChat(page: Page, name: string, room: string): Promise<void> {
  await page.waitForSelector('body[data-state="open"]');
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join');
  await page.waitForSelector(`body[data-joined="${room}"]`);
}

export async function members(page: Page): Promise<string[]> {
  return page.$$eval('#members li', (lis) => lis.map((li) => li.textContent ?? ''));
}

export async function messageTexts(page: Page): Promise<string[]> {
  return page.$$eval('#messages li .text', (spans) => spans.map((s) => s.textContent ?? ''));
}

/** Where screenshots go: E2E_SCREENSHOTS, or test-artifacts/screenshots (git-ignored; CI keeps it as an artifact). */
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS ?? 'test-artifacts/screenshots';

/** Saves a screenshot of the page as it is now, named after the state it shows and the viewport. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const size = page.viewportSize();
  const suffix = size ? `-${size.width}x${size.height}` : '';
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}${suffix}.png`), fullPage: true });
}

export const PHONE = { width: 390, height: 844 } as const;
export const LARGE = { width: 1920, height: 1080 } as const;

/** Elements that stick out of the viewport sideways, and whether the page scrolls sideways at all. */
export function overflow(page: Page): Promise<{ scrollWidth: number; width: number; outside: string[] }> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const outside: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.left < -0.5 || r.right > width + 0.5) {
        outside.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className} [${r.left}, ${r.right}]`);
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, width, outside };
  });
}

/** The page's box of `selector`. */
export async function box(
  page: Page,
  selector: string,
): Promise<{ x: number; y: number; width: number; height: number }> {
  const b = await page.locator(selector).boundingBox();
  if (!b) throw new Error(`${selector} is not shown`);
  return b;
}

/** Tells the page it was hidden or shown, as the browser does for a background tab (headless tabs never are). */
export async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { value: h, configurable: true });
    Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/**
 * Presses "Retry now" from script, so the test does not wait out the backoff; harmless when the page is already
 * back by itself (the button then does nothing), which a real click on the hidden button could not be.
 */
export async function hurryReconnect(page: Page): Promise<void> {
  await page.evaluate(() => document.querySelector<HTMLButtonElement>('#retry')?.click());
}

/** The chat page's system lines (joined, back, warnings), in order. */
export function systemLines(page: Page): Promise<string[]> {
  return page.$$eval('#messages li.system', (lis) => lis.map((li) => li.textContent ?? ''));
}
