// `switchboard connect` as a child process against real servers on 127.0.0.1: a round trip, everything the server
// sends printed with control characters escaped (messages, close reasons, status lines), and failed handshakes
// explained (403 → the origin policy and --origin, 404, nothing listening).
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { WebSocketServer } from '../../src/server.js';
import { runCli } from './cli-process.js';

/** A server that escapes would break: cursor moves, an OSC 8 hyperlink, a title change, BEL, backspaces, CR, C1 CSI,
 * bidi override and isolate, a line separator, a newline that could fake one of our lines, and a backslash. */
const HOSTILE =
  '\x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\x1b]0;pwned\x07\x08\x08\rFAKE\u009b31m\u202eevil\u2066x\u2069' +
  '\u2028\nclosed: 1000\\x1b';
const HOSTILE_SHOWN =
  '\\x1b[2J\\x1b]8;;http://evil.example\\x07click\\x1b]8;;\\x07\\x1b]0;pwned\\x07\\x08\\x08\\rFAKE\\x9b31m\\u202eevil' +
  '\\u2066x\\u2069\\u2028\\nclosed: 1000\\\\x1b';
const PRINTABLE = 'café naïve Ωmega 日本語 한국어 🎉 👨‍👩‍👧 🏴󠁧󠁢󠁥󠁮󠁧󠁿 فارسی‌ها';

/** Anything a terminal would act on: C0 except the newlines that end our lines, DEL, C1, bidi controls. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u;

async function wsServer(t: TestContext, options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
  const wss = new WebSocketServer(options);
  const { port } = await wss.listen(0, '127.0.0.1');
  t.after(() => wss.close());
  return { wss, port };
}

async function rawHttp(t: TestContext, answer: string): Promise<number> {
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

describe('switchboard connect', () => {
  it('sends each line of stdin, prints each message, closes with 1000 at end of input and exits 0', async (t) => {
    const { wss, port } = await wsServer(t);
    wss.on('connection', (conn) => conn.on('message', (msg) => conn.send(msg.data)));
    const run = await runCli(['connect', `ws://127.0.0.1:${port}/`], { input: `hello\n${PRINTABLE}\n` });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^connected/);
    assert.deepEqual(lines.slice(1, 3), ['< hello', `< ${PRINTABLE}`]);
    assert.match(lines[3]!, /^closed: 1000/);
  });

  it('escapes control characters in text messages and close reasons, keeps printable Unicode', async (t) => {
    const { wss, port } = await wsServer(t);
    wss.on('connection', (conn) => {
      conn.send(HOSTILE);
      conn.send(PRINTABLE);
      conn.send(Buffer.from([0x1b, 0x5b, 0x32, 0x4a]));
      conn.close(4000, '\x1b[31mred\x07\u202e');
    });
    const run = await runCli(['connect', `ws://127.0.0.1:${port}/`], { keepStdinOpen: true });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, RAW_CONTROL);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 5, 'one line per message: the newline inside the message did not split it');
    assert.equal(lines[1], `< ${HOSTILE_SHOWN}`);
    assert.equal(lines[2], `< ${PRINTABLE}`);
    assert.equal(lines[3], '< [binary 4 bytes] 1b5b324a');
    assert.equal(lines[4], 'closed: 4000 \\x1b[31mred\\x07\\u202e');
  });

  it('a connection that ends without a close handshake prints "(not clean)" and exits 1', async (t) => {
    const { wss, port } = await wsServer(t);
    wss.on('connection', (conn) => {
      conn.send('bye');
      setImmediate(() => conn.terminate());
    });
    const run = await runCli(['connect', `ws://127.0.0.1:${port}/`], { keepStdinOpen: true });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^< bye\nclosed: 1006 \(not clean\)\n$/m);
  });

  it('escapes control characters in the status line of a refused handshake', async (t) => {
    const port = await rawHttp(t, 'HTTP/1.1 403 \x1b]0;pwned\x07\x1b[2KForbidden\r\nContent-Length: 0\r\n\r\n');
    const run = await runCli(['connect', `ws://127.0.0.1:${port}/`]);
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stderr, RAW_CONTROL);
    assert.match(run.stderr, /403 \\x1b\]0;pwned\\x07\\x1b\[2KForbidden/);
  });

  it('a 403 says the origin policy refused it and suggests --origin; with an allowed --origin it connects', async (t) => {
    const { port } = await wsServer(t, { origins: ['https://app.example.com'] });
    const url = `ws://127.0.0.1:${port}/`;
    const refused = await runCli(['connect', url, '--origin', 'https://evil.example']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /could not connect to ws:\/\/127\.0\.0\.1:\d+\/: the server refused the handshake \(403\)/,
    );
    assert.match(
      refused.stderr,
      /origin policy did not allow this client \(the origin sent was https:\/\/evil\.example\)/,
    );
    assert.match(
      refused.stderr,
      new RegExp(`try --origin http://127\\.0\\.0\\.1:${port} \\(the server's own origin\\)`),
    );
    const allowed = await runCli(['connect', url, '--origin', 'https://app.example.com']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /^connected/);
  });

  it('other failures say what they mean: 404, 401, plain HTTP, a hang-up, nothing listening', async (t) => {
    const wss = new WebSocketServer();
    const http = createHttpServer();
    wss.attach(http, { path: '/echo' });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      await wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    });
    const attached = (http.address() as AddressInfo).port;
    const plain = await rawHttp(t, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
    const auth = await rawHttp(t, 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    const hangUp = await rawHttp(t, '');
    // A port nothing listens on: one that was free a moment ago.
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const freePort = (free.address() as AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));

    const cases: [string, RegExp][] = [
      [`ws://127.0.0.1:${attached}/nope`, /there is no WebSocket endpoint at \/nope on this server/],
      [`ws://127.0.0.1:${plain}/`, /serves ordinary HTTP, not a WebSocket endpoint/],
      [`ws://127.0.0.1:${auth}/`, /wants credentials: send them with --header "Authorization: \.\.\."/],
      [`ws://127.0.0.1:${hangUp}/`, /closed the connection in the middle of the handshake/],
      [`ws://127.0.0.1:${freePort}/`, /nothing is listening on 127\.0\.0\.1:\d+/],
    ];
    const runs = await Promise.all(cases.map(([url]) => runCli(['connect', url])));
    for (const [i, [url, expected]] of cases.entries()) {
      assert.equal(runs[i]!.code, 1, `${url}: ${runs[i]!.stderr}`);
      assert.match(runs[i]!.stderr, expected);
    }
  });
});
