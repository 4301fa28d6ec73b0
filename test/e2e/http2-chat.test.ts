// The chat and the dashboard in Debian's chromium over HTTPS (the demo with a certificate made by openssl, accepted
// with --ignore-certificate-errors): the page comes over HTTP/2 and its WebSocket arrives at the server as an
// extended CONNECT stream of the page's own session (RFC 8441), with permessage-deflate; with HTTP/2 switched off in
// the browser, the same server serves the same page and WebSocket over HTTP/1.1.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, ServerHttp2Session } from 'node:http2';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { DemoServer } from '../../apps/demo-server.js';
import { certificate } from '../helpers/h2.js';
import {
  errorsOf,
  joinChat,
  launch,
  members,
  messageTexts,
  skipWithoutChromium,
  startDemo,
  until,
  useBrowser,
} from './browser.js';

const HTTPS = ['--ignore-certificate-errors'];

/** What the page itself was loaded over, as the browser reports it ('h2' or 'http/1.1'). */
const pageProtocol = (page: Page): Promise<string> =>
  page.evaluate(
    () =>
      (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined)?.nextHopProtocol ?? '',
  );

interface Watched {
  demo: DemoServer;
  /** The extended CONNECT requests the server received, and the sessions they came on. */
  connects: Array<{ headers: IncomingHttpHeaders; session: ServerHttp2Session | undefined }>;
  sessions: ServerHttp2Session[];
}

async function httpsDemo(t: { after(fn: () => unknown): void }): Promise<Watched> {
  const demo = await startDemo({ tls: await certificate() });
  t.after(() => demo.close());
  const connects: Watched['connects'] = [];
  const sessions: ServerHttp2Session[] = [];
  demo.http.on('session', (s: ServerHttp2Session) => sessions.push(s));
  demo.http.on('stream', (stream: { session: ServerHttp2Session | undefined }, headers: IncomingHttpHeaders) => {
    if (headers[':method'] === 'CONNECT') connects.push({ headers, session: stream.session });
  });
  return { demo, connects, sessions };
}

describe('chat over HTTPS in chromium', { skip: skipWithoutChromium }, () => {
  const browser = useBrowser(HTTPS);

  test('HTTP/2: two pages chat, each WebSocket an extended CONNECT stream of its page’s session, compressed', async (t) => {
    const { demo, connects, sessions } = await httpsDemo(t);
    const ann = await browser.newPage();
    const bob = await browser.newPage();
    await Promise.all([ann.goto(`${demo.url}/`), bob.goto(`${demo.url}/`)]);
    assert.equal(await pageProtocol(ann), 'h2');
    await joinChat(ann, 'ann', 'lobby');
    await joinChat(bob, 'bob', 'lobby');
    await until(
      'both names in ann’s list',
      () => members(ann),
      (m) => m.length === 2,
    );

    // Asserted on the server: both WebSockets came as HTTP/2 streams, none as an HTTP/1.1 upgrade.
    assert.deepEqual(demo.transports(), { h2: 2, 'http/1.1': 0 });
    const chat = connects.filter((c) => c.headers[':path'] === '/chat');
    assert.equal(chat.length, 2);
    for (const c of chat) {
      assert.equal(c.headers[':protocol'], 'websocket');
      assert.equal(c.headers['sec-websocket-version'], '13');
      assert.equal(c.headers['sec-websocket-key'], undefined, 'RFC 8441 §5: no Sec-WebSocket-Key');
      assert.ok(c.session && sessions.includes(c.session), 'on a session the pages were loaded over');
    }
    // One browser profile, one origin: Chromium puts both pages and both WebSockets on one connection.
    assert.equal(new Set(chat.map((c) => c.session)).size, 1);
    t.diagnostic(
      `Chromium offered: ${chat[0]!.headers['sec-websocket-extensions']}; HTTP/2 sessions: ${sessions.length}`,
    );
    for (const page of [ann, bob]) {
      const ext = await page.evaluate(() => document.body.dataset.extensions ?? '');
      assert.match(ext, /^permessage-deflate/, 'negotiated over the stream as over HTTP/1.1');
      t.diagnostic(`negotiated: ${ext}`);
    }

    const text = `${'over one HTTP/2 connection — ünïcödé ✓ '.repeat(10)}end`;
    await ann.fill('#text', text);
    await ann.press('#text', 'Enter');
    await until(
      'ann’s message in bob’s page',
      () => messageTexts(bob),
      (m) => m.includes(text),
    );
    await bob.fill('#text', 'hi ann');
    await bob.press('#text', 'Enter');
    await until(
      'bob’s reply in ann’s page',
      () => messageTexts(ann),
      (m) => m.includes('hi ann'),
    );

    // Closing a tab closes its WebSocket's stream; the other page, on the same session, goes on.
    await bob.close();
    await until(
      'bob gone from ann’s list',
      () => members(ann),
      (m) => m.length === 1,
    );
    assert.deepEqual(demo.transports(), { h2: 1, 'http/1.1': 0 });
    assert.deepEqual(errorsOf(ann), []);
    await ann.close();
  });

  test('the dashboard over HTTP/2 shows how many WebSockets run over HTTP/2 and HTTP/1.1', async (t) => {
    const { demo } = await httpsDemo(t);
    const page = await browser.newPage();
    await page.goto(`${demo.url}/dashboard`);
    await until(
      'the transport counts',
      () => page.textContent('#by-transport'),
      (s) => /HTTP\/2 1 · HTTP\/1\.1 0/.test(s ?? ''),
    );
    assert.deepEqual(errorsOf(page), []);
    await page.close();
  });

  test('with HTTP/2 switched off in the browser, the same server serves the chat over HTTP/1.1', async (t) => {
    const { demo, connects } = await httpsDemo(t);
    const h1 = await launch([...HTTPS, '--disable-http2']);
    t.after(() => h1.close());
    const page = await h1.newPage();
    await page.goto(`${demo.url}/`);
    assert.equal(await pageProtocol(page), 'http/1.1');
    await joinChat(page, 'cleo', 'lobby');
    assert.deepEqual(demo.transports(), { h2: 0, 'http/1.1': 1 });
    assert.equal(connects.length, 0);
    await page.fill('#text', 'over http/1.1');
    await page.press('#text', 'Enter');
    await until(
      'the message echoed to its sender',
      () => messageTexts(page),
      (m) => m.includes('over http/1.1'),
    );
    assert.deepEqual(errorsOf(page), []);
  });
});
