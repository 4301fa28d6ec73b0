// Interop with the `ws` library both ways (RFC 6455, RFC 7692): switchboard server ↔ ws client and ws server ↔
// switchboard client — messages of many sizes, fragments, ping/pong, close codes, subprotocols, refusals, and
// permessage-deflate in our 'dedicated' and 'shared' modes against ws's context-takeover and window-size options.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket, type PerMessageDeflateOptions, WebSocketServer as WsServer } from 'ws';
import { type ConnectOptions, connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { Message } from '../../src/connection/types.js';
import { HandshakeError } from '../../src/errors.js';
import { type ServerOptions, WebSocketServer } from '../../src/server.js';
import { Inbox, inboxOf } from '../helpers/inbox.js';
import { pattern, text } from '../helpers/payloads.js';
import { within } from '../helpers/raw-server.js';

const WAIT = 10_000;
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];
const BIG = 16 << 20;

/** Messages arriving at a ws socket, awaitable with a deadline. */
function wsInbox(ws: WebSocket): Inbox<{ data: Buffer; isBinary: boolean }> {
  const inbox = new Inbox<{ data: Buffer; isBinary: boolean }>(WAIT, 'a message at the ws peer');
  ws.on('message', (data, isBinary) => inbox.push({ data: data as Buffer, isBinary }));
  return inbox;
}

interface Ours {
  wss: WebSocketServer;
  url: string;
  /** Server-side connections in the order they opened. */
  conns: Connection[];
  nextConn(): Promise<Connection>;
}

/** A switchboard server on 127.0.0.1:0 that echoes every message unless `echo: false`. */
async function ourServer(t: TestContext, options: ServerOptions = {}, echo = true): Promise<Ours> {
  const wss = new WebSocketServer({ origins: '*', heartbeat: false, ...options });
  const conns: Connection[] = [];
  const waiters: Array<(c: Connection) => void> = [];
  wss.on('connection', (conn) => {
    if (echo) conn.on('message', (m) => conn.send(m.data));
    conns.push(conn);
    waiters.shift()?.(conn);
  });
  const addr = await wss.listen(0, '127.0.0.1');
  t.after(() => wss.close());
  let taken = 0;
  return {
    wss,
    url: `ws://127.0.0.1:${addr.port}/`,
    conns,
    nextConn: () => {
      const c = conns[taken];
      if (c) {
        taken++;
        return Promise.resolve(c);
      }
      taken++;
      return within(new Promise<Connection>((resolve) => waiters.push(resolve)), WAIT, 'a server connection');
    },
  };
}

async function wsClient(t: TestContext, url: string, protocols: string[] = [], options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, protocols, options);
  t.after(() => ws.terminate());
  const inbox = wsInbox(ws);
  await within(once(ws, 'open'), WAIT, 'the ws client to open');
  return { ws, inbox };
}

/** A ws server on 127.0.0.1:0 that echoes (preserving the text/binary type) unless `echo: false`. */
async function theirServer(t: TestContext, options: WebSocket.ServerOptions = {}, echo = true) {
  const server = new WsServer({ port: 0, host: '127.0.0.1', ...options });
  const sockets: WebSocket[] = [];
  const waiters: Array<(ws: WebSocket) => void> = [];
  server.on('connection', (ws) => {
    if (echo) ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    sockets.push(ws);
    waiters.shift()?.(ws);
  });
  await within(once(server, 'listening'), WAIT, 'ws server listening');
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of server.clients) ws.terminate();
        server.close(() => resolve());
      }),
  );
  let taken = 0;
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `ws://127.0.0.1:${port}/`,
    nextSocket: (): Promise<WebSocket> => {
      const s = sockets[taken++];
      if (s) return Promise.resolve(s);
      return within(new Promise<WebSocket>((resolve) => waiters.push(resolve)), WAIT, 'a ws server connection');
    },
  };
}

async function ourClient(t: TestContext, url: string, options: ConnectOptions = {}) {
  const conn = await connect(url, options);
  t.after(() => conn.terminate());
  return { conn, inbox: inboxOf(conn, WAIT, 'a message at switchboard') };
}

describe('switchboard server ↔ ws client', () => {
  it('echoes text and binary messages of every length form, 1 MiB and 16 MiB', async (t) => {
    const ours = await ourServer(t);
    const { ws, inbox } = await wsClient(t, ours.url);
    for (const size of [...SIZES, BIG]) {
      const tx = text(size, size);
      ws.send(tx);
      const back = await inbox.next(20_000);
      assert.equal(back.isBinary, false, `text of ${size}`);
      assert.equal(back.data.toString(), tx);
      const bin = pattern(size, size);
      ws.send(bin);
      const b = await inbox.next(20_000);
      assert.equal(b.isBinary, true, `binary of ${size}`);
      assert.ok(b.data.equals(bin), `binary of ${size} bytes`);
    }
  });

  it('assembles messages ws sends in fragments (send with fin: false)', async (t) => {
    const ours = await ourServer(t);
    const { ws, inbox } = await wsClient(t, ours.url);
    const conn = await ours.nextConn();
    const received = inboxOf(conn, WAIT, 'a message at switchboard');
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed €', { fin: true });
    ws.send(pattern(70000, 1).subarray(0, 40000), { fin: false, binary: true });
    ws.send(pattern(70000, 1).subarray(40000), { fin: true, binary: true });
    assert.deepEqual(await received.next(), { type: 'text', data: 'fragmented €' });
    const b = await received.next();
    assert.ok(b.type === 'binary' && b.data.equals(pattern(70000, 1)));
    assert.equal((await inbox.next()).data.toString(), 'fragmented €');
    assert.ok((await inbox.next()).data.equals(pattern(70000, 1)));
  });

  it('sends a streamed message as fragments that ws assembles', async (t) => {
    const ours = await ourServer(t, {}, false);
    const { inbox } = await wsClient(t, ours.url);
    const conn = await ours.nextConn();
    const w = conn.writer('text');
    for (const piece of ['stream', 'ed ', 'tëxt']) w.write(Buffer.from(piece));
    w.end();
    const m = await inbox.next();
    assert.equal(m.isBinary, false);
    assert.equal(m.data.toString(), 'streamed tëxt');
  });

  it('pings and pongs both ways', async (t) => {
    const ours = await ourServer(t);
    const { ws } = await wsClient(t, ours.url);
    const conn = await ours.nextConn();
    const serverSawPing = new Promise<Buffer>((resolve) => conn.once('ping', resolve));
    const wsGotPong = once(ws, 'pong');
    ws.ping('from ws');
    assert.equal((await within(serverSawPing, WAIT, 'server ping event')).toString(), 'from ws');
    assert.equal(String((await within(wsGotPong, WAIT, 'ws pong'))[0]), 'from ws');
    const wsGotPing = once(ws, 'ping');
    const serverGotPong = new Promise<Buffer>((resolve) => conn.once('pong', resolve));
    conn.ping('from switchboard');
    assert.equal(String((await within(wsGotPing, WAIT, 'ws ping'))[0]), 'from switchboard');
    assert.equal((await within(serverGotPong, WAIT, 'server pong')).toString(), 'from switchboard');
  });

  it('carries close codes and reasons from ws to us and from us to ws', async (t) => {
    const ours = await ourServer(t);
    const a = await wsClient(t, ours.url);
    const connA = await ours.nextConn();
    const wsClosedA = once(a.ws, 'close');
    a.ws.close(4001, 'client says bye');
    assert.deepEqual(await within(connA.closed, WAIT, 'server closed'), {
      code: 4001,
      reason: 'client says bye',
      wasClean: true,
    });
    // ws reports the code of our echo, which repeats the code only (§5.5.1 leaves the reason to the sender).
    const [codeA] = await within(wsClosedA, WAIT, 'ws close');
    assert.equal(codeA, 4001);

    const b = await wsClient(t, ours.url);
    const connB = await ours.nextConn();
    const wsClosedB = once(b.ws, 'close');
    const info = await within(connB.close(4002, 'server says bye'), WAIT, 'server close()');
    assert.deepEqual(info, { code: 4002, reason: 'server says bye', wasClean: true });
    const [codeB, reasonB] = await within(wsClosedB, WAIT, 'ws close');
    assert.equal(codeB, 4002);
    assert.equal(String(reasonB), 'server says bye');

    const c = await wsClient(t, ours.url);
    const connC = await ours.nextConn();
    c.ws.close();
    assert.equal((await within(connC.closed, WAIT, 'closed')).code, 1005, 'a close without a code');
  });

  it('negotiates subprotocols in the server’s order of preference', async (t) => {
    const ours = await ourServer(t, { protocols: ['chat.v2', 'chat.v1'] });
    const a = await wsClient(t, ours.url, ['chat.v1', 'chat.v2']);
    assert.equal(a.ws.protocol, 'chat.v2');
    assert.equal((await ours.nextConn()).protocol, 'chat.v2');
    const b = await wsClient(t, ours.url, ['chat.v1', 'other']);
    assert.equal(b.ws.protocol, 'chat.v1');
    const c = await wsClient(t, ours.url);
    assert.equal(c.ws.protocol, '');
    await ours.nextConn();
    assert.equal((await ours.nextConn()).protocol, '');
  });

  it('refuses a ws client from a foreign origin with 403 (default same-origin policy)', async (t) => {
    const wss = new WebSocketServer({ heartbeat: false });
    const addr = await wss.listen(0, '127.0.0.1');
    t.after(() => wss.close());
    const url = `ws://127.0.0.1:${addr.port}/`;
    const ws = new WebSocket(url, { origin: 'https://evil.example' });
    const refused = new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
    });
    assert.equal(await within(refused, WAIT, 'the refusal'), 403);
    const rejected = new Promise<{ status: number; message: string }>((resolve) => {
      wss.once('rejected', ({ status, message }) => resolve({ status, message }));
    });
    const again = new WebSocket(url, { origin: 'https://evil.example' });
    const [err] = (await within(once(again, 'error'), WAIT, 'the ws error')) as [Error];
    assert.match(err.message, /Unexpected server response: 403/);
    assert.match((await within(rejected, WAIT, 'rejected event')).message, /origin https:\/\/evil\.example/);
    // Same origin, and no Origin at all (not a browser), are allowed.
    const same = await wsClient(t, url, [], { origin: `http://127.0.0.1:${addr.port}` });
    assert.equal(same.ws.readyState, WebSocket.OPEN);
    const none = await wsClient(t, url);
    assert.equal(none.ws.readyState, WebSocket.OPEN);
  });
});

describe('ws server ↔ switchboard client', () => {
  it('echoes text and binary messages of every length form, 1 MiB and 16 MiB', async (t) => {
    const theirs = await theirServer(t);
    const { conn, inbox } = await ourClient(t, theirs.url);
    for (const size of [...SIZES, BIG]) {
      const tx = text(size, size);
      conn.send(tx);
      assert.deepEqual(await inbox.next(20_000), { type: 'text', data: tx }, `text of ${size}`);
      const bin = pattern(size, size);
      conn.send(bin);
      const b = await inbox.next(20_000);
      assert.ok(b.type === 'binary' && b.data.equals(bin), `binary of ${size} bytes`);
    }
  });

  it('assembles fragments from ws and sends fragments ws assembles', async (t) => {
    const theirs = await theirServer(t);
    const { conn, inbox } = await ourClient(t, theirs.url);
    const ws = await theirs.nextSocket();
    ws.send('one ', { fin: false });
    ws.send('two ', { fin: false });
    ws.send('three', { fin: true });
    assert.deepEqual(await inbox.next(), { type: 'text', data: 'one two three' });
    const w = conn.writer('binary');
    const whole = pattern(100_000, 2);
    for (let at = 0; at < whole.length; at += 7000) w.write(whole.subarray(at, at + 7000));
    w.end();
    const echoed = await inbox.next();
    assert.ok(echoed.type === 'binary' && echoed.data.equals(whole));
  });

  it('pings and pongs both ways', async (t) => {
    const theirs = await theirServer(t);
    const { conn } = await ourClient(t, theirs.url);
    const ws = await theirs.nextSocket();
    const gotPong = new Promise<Buffer>((resolve) => conn.once('pong', resolve));
    conn.ping('hello ws');
    assert.equal((await within(gotPong, WAIT, 'pong')).toString(), 'hello ws');
    const wsPong = once(ws, 'pong');
    const clientPing = new Promise<Buffer>((resolve) => conn.once('ping', resolve));
    ws.ping('hello switchboard');
    assert.equal((await within(clientPing, WAIT, 'ping')).toString(), 'hello switchboard');
    assert.equal(String((await within(wsPong, WAIT, 'ws pong'))[0]), 'hello switchboard');
  });

  it('carries close codes and reasons both ways', async (t) => {
    const theirs = await theirServer(t);
    const a = await ourClient(t, theirs.url);
    const wsA = await theirs.nextSocket();
    const wsClosed = once(wsA, 'close');
    assert.deepEqual(await within(a.conn.close(4003, 'client bye'), WAIT, 'close()'), {
      code: 4003,
      reason: 'client bye',
      wasClean: true,
    });
    const [code, reason] = await within(wsClosed, WAIT, 'ws close');
    assert.equal(code, 4003);
    assert.equal(String(reason), 'client bye');

    const b = await ourClient(t, theirs.url);
    const wsB = await theirs.nextSocket();
    wsB.close(1001, 'going away');
    assert.deepEqual(await within(b.conn.closed, WAIT, 'closed'), { code: 1001, reason: 'going away', wasClean: true });
  });

  it('accepts the subprotocol ws selects', async (t) => {
    const theirs = await theirServer(t, {
      handleProtocols: (protocols) => (protocols.has('y') ? 'y' : false),
    });
    const { conn } = await ourClient(t, theirs.url, { protocols: ['x', 'y'] });
    assert.equal(conn.protocol, 'y');
    assert.equal((await theirs.nextSocket()).protocol, 'y');
  });

  it('rejects with a HandshakeError carrying the status when ws refuses the handshake', async (t) => {
    const theirs = await theirServer(t, {
      verifyClient: (_info, done) => done(false, 401, 'Unauthorized'),
    });
    await assert.rejects(connect(theirs.url), (err: unknown) => {
      assert.ok(err instanceof HandshakeError);
      assert.equal(err.status, 401);
      assert.match(err.message, /401/);
      return true;
    });
    const guarded = await theirServer(t, {
      verifyClient: (info, done) => done(info.req.headers.authorization === 'Bearer ok', 403),
    });
    await assert.rejects(connect(guarded.url), (err: unknown) => err instanceof HandshakeError && err.status === 403);
    const { conn } = await ourClient(t, guarded.url, { headers: { Authorization: 'Bearer ok' } });
    assert.equal(conn.readyState, 1);
  });
});

/**
 * Messages that reward context takeover (each repeats much of the one before) mixed with incompressible and tiny
 * (below the threshold, sent uncompressed) ones, and a few larger than a 32 KiB window.
 */
function corpus(n: number, seed: number): Array<string | Buffer> {
  const out: Array<string | Buffer> = [];
  for (let i = 0; i < n; i++) {
    if (i % 17 === 5) out.push(pattern(300 + i, seed + i));
    else if (i % 13 === 7) out.push(`tiny ${i}`);
    else if (i % 41 === 20) out.push(text(40_000 + i * 10, seed + i));
    else
      out.push(JSON.stringify({ seq: i, seed, topic: 'room:42', user: `user-${i % 7}`, body: text(80 + (i % 30), i) }));
  }
  return out;
}

function same(got: { data: Buffer; isBinary: boolean } | Message, want: string | Buffer): boolean {
  if ('isBinary' in got)
    return typeof want === 'string'
      ? !got.isBinary && got.data.toString() === want
      : got.isBinary && got.data.equals(want);
  return typeof want === 'string'
    ? got.type === 'text' && got.data === want
    : got.type === 'binary' && got.data.equals(want);
}

const THEIR_DEFLATE: Array<[string, PerMessageDeflateOptions]> = [
  ['perMessageDeflate: true', { threshold: 0 }],
  [
    'no context takeover both ways, serverMaxWindowBits 9',
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, threshold: 0 },
  ],
  ['small windows (server 10, client 9)', { serverMaxWindowBits: 10, clientMaxWindowBits: 9, threshold: 0 }],
  ['client no context takeover only', { clientNoContextTakeover: true, threshold: 0 }],
];

const N = 150;

describe('permessage-deflate: switchboard server ↔ ws client', () => {
  for (const mode of ['dedicated', 'shared'] as const) {
    for (const [name, deflate] of THEIR_DEFLATE) {
      it(`our '${mode}' server with a ws client offering ${name}: ${N} messages each way`, async (t) => {
        const ours = await ourServer(t, { compression: mode });
        const { ws, inbox } = await wsClient(t, ours.url, [], { perMessageDeflate: deflate });
        const conn = await ours.nextConn();
        assert.match(ws.extensions, /permessage-deflate/);
        assert.match(conn.extensions, /permessage-deflate/);
        if (mode === 'shared') assert.match(conn.extensions, /server_no_context_takeover/);
        const msgs = corpus(N, 1);
        for (const m of msgs) ws.send(m);
        for (let i = 0; i < msgs.length; i++) {
          const got = await inbox.next();
          assert.ok(same(got, msgs[i]!), `message ${i} survives the round trip`);
        }
        const raw = msgs.reduce((n, m) => n + Buffer.byteLength(m), 0);
        // Both directions were compressed: the wire carried well under the payload bytes.
        assert.ok(ours.wss.stats.bytesIn < raw * 0.6, `in: ${ours.wss.stats.bytesIn} wire bytes for ${raw}`);
        assert.ok(ours.wss.stats.bytesOut < raw * 0.6, `out: ${ours.wss.stats.bytesOut} wire bytes for ${raw}`);
      });
    }
  }
});

describe('permessage-deflate: ws server ↔ switchboard client', () => {
  for (const mode of ['dedicated', 'shared'] as const) {
    for (const [name, deflate] of THEIR_DEFLATE) {
      it(`our '${mode}' client with a ws server configured for ${name}: ${N} messages each way`, async (t) => {
        const theirs = await theirServer(t, { perMessageDeflate: deflate });
        const { conn, inbox } = await ourClient(t, theirs.url, { compression: { mode, threshold: 16 } });
        const ws = await theirs.nextSocket();
        assert.match(conn.extensions, /permessage-deflate/);
        assert.match(ws.extensions, /permessage-deflate/);
        if (mode === 'shared') assert.match(conn.extensions, /server_no_context_takeover/);
        const wsIn = wsInbox(ws);
        const msgs = corpus(N, 2);
        for (const m of msgs) conn.send(m);
        for (let i = 0; i < msgs.length; i++) {
          assert.ok(same(await wsIn.next(), msgs[i]!), `message ${i} reaches ws intact`);
          assert.ok(same(await inbox.next(), msgs[i]!), `message ${i} comes back intact`);
        }
        const sock = (ws as unknown as { _socket: { bytesRead: number; bytesWritten: number } })._socket;
        const raw = msgs.reduce((n, m) => n + Buffer.byteLength(m), 0);
        assert.ok(sock.bytesRead < raw * 0.6, `ws read ${sock.bytesRead} wire bytes for ${raw}: we compressed`);
        assert.ok(sock.bytesWritten < raw * 0.6, `ws wrote ${sock.bytesWritten} wire bytes for ${raw}: ws compressed`);
      });
    }
  }
});
