// The server's RFC 8441 handshake from outside: a hand-written node:http2 client (test/helpers/h2.ts) opens
// WebSockets as extended CONNECT streams of one session on a TLS server with allowHTTP1, next to HTTP/1.1 upgrades
// from ws; refusals carry the right :status; compression and subprotocols are negotiated as over HTTP/1.1; h2c too.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Http2SecureServer, Http2ServerRequest } from 'node:http2';
import { describe, it, type TestContext } from 'node:test';
import { constants as zlib, deflateRawSync, inflateRawSync } from 'node:zlib';
import { WebSocket } from 'ws';
import type { Connection } from '../../src/connection/connection.js';
import type { WebSocketRequest } from '../../src/handshake/pending-handshake.js';
import { type ServerOptions, WebSocketServer } from '../../src/server.js';
import { nextConnection } from '../helpers/clocked-server.js';
import {
  bodyOf,
  extendedConnect,
  type H2Server,
  openH2Peer,
  openSession,
  startH2cServer,
  startH2Server,
} from '../helpers/h2.js';
import { closeNormally, Op, within } from '../helpers/raw-peer.js';

interface Echo {
  h2: H2Server<Http2SecureServer>;
  wss: WebSocketServer;
  /** The request of every connection, in order. */
  requests: WebSocketRequest[];
}

/** /echo on an h2 + HTTP/1.1 TLS server; `route` lets plain requests to /echo reach handleRequest(). */
async function echoServer(t: TestContext, options: ServerOptions = {}): Promise<Echo> {
  const wss = new WebSocketServer({ heartbeat: false, ...options });
  const requests: WebSocketRequest[] = [];
  wss.on('connection', (conn, req) => {
    requests.push(req);
    conn.on('message', (m) => conn.send(m.data));
  });
  const h2 = await startH2Server(t, (server) => {
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      if (req.url === '/echo') wss.handleRequest(req, res);
      else res.writeHead(404).end();
    });
    wss.attach(server, { path: '/echo' });
  });
  t.after(() => wss.close());
  return { h2, wss, requests };
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** RFC 7692 §7.2.1 without context takeover: each message deflated on its own, the sync-flush tail removed. */
function deflate(data: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: zlib.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - TAIL.length);
}
function inflate(payload: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([payload, TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH });
}

describe('extended CONNECT on an h2 server (RFC 8441 §4–5)', () => {
  it('opens /echo: a 200 without Sec-WebSocket-Accept, text and binary echoed, a clean close that keeps the session', async (t) => {
    const { h2, wss, requests } = await echoServer(t);
    const session = await openSession(t, h2.origin);
    assert.equal(session.remoteSettings.enableConnectProtocol, true, 'SETTINGS_ENABLE_CONNECT_PROTOCOL advertised');
    const peer = await openH2Peer(t, session);
    assert.equal(peer.headers['sec-websocket-accept'], undefined);
    assert.equal(peer.headers.upgrade, undefined);
    await peer.sendText('hello over h2');
    await peer.expectEcho('hello over h2');
    const bin = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    await peer.sendBinary(bin);
    await peer.expectEcho(bin, 'binary');
    const req = requests[0]!;
    assert.equal(req.httpVersionMajor, 2);
    assert.equal(req.url, '/echo');
    assert.equal([...wss.clients][0]!.remoteAddress, '127.0.0.1');

    await closeNormally(peer);
    assert.equal(await peer.closed, 0, 'END_STREAM both ways, no reset');
    assert.equal(session.closed, false, 'the session outlives its WebSocket');
    const again = await openH2Peer(t, session);
    await again.sendText('same session');
    await again.expectEcho('same session');
    assert.equal(h2.sessions.length, 1);
  });

  it('permessage-deflate over a stream: compressed text and binary echoed, and uncompressed ones too', async (t) => {
    const { h2 } = await echoServer(t, { compression: 'dedicated' });
    const session = await openSession(t, h2.origin);
    const peer = await openH2Peer(t, session, '/echo', {
      'sec-websocket-extensions': 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
    });
    assert.match(String(peer.headers['sec-websocket-extensions']), /^permessage-deflate/);
    // Above the default threshold (1 KiB), so the echo is compressed.
    const text = Buffer.from('ünïcödé over HTTP/2 '.repeat(60));
    const bin = Buffer.alloc(4096, 7);
    for (const [opcode, data] of [
      [Op.Text, text],
      [Op.Binary, bin],
    ] as const) {
      for (const compressed of [true, false]) {
        await peer.send({ opcode, payload: compressed ? deflate(data) : data, rsv: compressed ? 4 : 0 });
        const echo = await peer.nextFrame();
        assert.equal(echo.opcode, opcode);
        assert.equal(echo.rsv, 4, 'the server compresses what is above its threshold');
        assert.ok(echo.payload.length < data.length / 4, `compressed on the wire: ${echo.payload.length} bytes`);
        assert.ok(inflate(echo.payload).equals(data));
      }
    }
    await closeNormally(peer);
  });

  it('100 WebSockets share one session, each echoing its own messages', async (t) => {
    const { h2, wss } = await echoServer(t);
    const session = await openSession(t, h2.origin);
    const peers = await Promise.all(Array.from({ length: 100 }, () => openH2Peer(t, session)));
    assert.equal(wss.clients.size, 100);
    await Promise.all(peers.map((p, i) => p.sendText(`message ${i}`)));
    for (const [i, p] of peers.entries()) await p.expectEcho(`message ${i}`);
    await Promise.all(peers.map((p) => closeNormally(p)));
    assert.equal(h2.sessions.length, 1, 'one TCP+TLS connection carried them all');
    assert.equal(session.closed, false);
  });

  it('HTTP/1.1 upgrades still work on the same allowHTTP1 server (ws as the client)', async (t) => {
    const { h2, requests } = await echoServer(t);
    const ws = new WebSocket(`wss://127.0.0.1:${h2.port}/echo`, { rejectUnauthorized: false });
    t.after(() => ws.terminate());
    await within(once(ws, 'open'), 5_000, 'the ws client to open');
    ws.send('over http/1.1');
    const [data] = (await within(once(ws, 'message'), 5_000, 'the echo')) as [Buffer];
    assert.equal(data.toString(), 'over http/1.1');
    assert.equal(requests[0]!.httpVersion, '1.1');
    ws.close(1000);
    await within(once(ws, 'close'), 5_000, 'the ws close');
  });

  it('negotiates a subprotocol as over HTTP/1.1', async (t) => {
    const { h2 } = await echoServer(t, { protocols: ['chat.v2', 'chat.v1'] });
    const session = await openSession(t, h2.origin);
    const peer = await openH2Peer(t, session, '/echo', { 'sec-websocket-protocol': 'chat.v1, chat.v2' });
    assert.equal(peer.headers['sec-websocket-protocol'], 'chat.v2');
  });
});

describe('refused extended CONNECTs get an HTTP/2 error status, and the session goes on', () => {
  const cases: Array<{
    what: string;
    options?: ServerOptions;
    path?: string;
    headers: Record<string, string | null>;
    status: number;
    body: RegExp;
    field?: [string, string];
  }> = [
    {
      what: 'an unknown version',
      headers: { 'sec-websocket-version': '8' },
      status: 400,
      body: /speaks 13/,
      field: ['sec-websocket-version', '13'],
    },
    {
      what: 'another origin (same-origin policy against :authority)',
      headers: { origin: 'https://evil.example' },
      status: 403,
      body: /evil/,
    },
    { what: 'a path nobody serves', path: '/nowhere', headers: {}, status: 404, body: /\/nowhere/ },
    {
      what: 'authorize() false',
      options: { authorize: (req) => req.headers['x-deny'] === undefined },
      headers: { 'x-deny': '1' },
      status: 403,
      body: /not authorized/,
    },
    {
      what: 'authorize() 401',
      options: { authorize: async (req) => req.headers['x-deny'] === undefined || 401 },
      headers: { 'x-deny': '1' },
      status: 401,
      body: /not authorized/,
    },
    { what: 'another :protocol (RFC 8441 §4: 501)', headers: { ':protocol': 'connect-udp' }, status: 501, body: /^$/ },
    {
      what: 'a plain CONNECT (node’s 405)',
      headers: { ':protocol': null, ':path': null, ':scheme': null, ':authority': 'localhost:1' },
      status: 405,
      body: /^$/,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.status}`, async (t) => {
      const { h2, wss } = await echoServer(t, c.options);
      const rejected: number[] = [];
      wss.on('rejected', (r) => rejected.push(r.status));
      const session = await openSession(t, h2.origin);
      const answer = await extendedConnect(session, c.path ?? '/echo', c.headers);
      assert.equal(answer.status, c.status);
      assert.equal(answer.headers['sec-websocket-accept'], undefined);
      if (c.field) assert.equal(answer.headers[c.field[0]], c.field[1]);
      assert.match(await bodyOf(answer), c.body);
      // Ours reset the request once answered (RFC 9113 §8.1), so it closes although we never end our side; node's own
      // answers to CONNECTs that are not WebSockets wait for that.
      const ours = c.status !== 405 && c.status !== 501;
      if (!ours) answer.stream.end();
      assert.equal(await within(answer.closed, 5_000, 'the refused stream to close'), 0, 'NO_ERROR');
      assert.equal(wss.clients.size, 0);
      // What this server's checks refuse is reported; a path nobody serves is not its own refusal.
      assert.deepEqual(rejected, ours && c.status !== 404 ? [c.status] : []);
      const peer = await openH2Peer(t, session);
      await peer.sendText('the session still serves');
      await peer.expectEcho('the session still serves');
    });
  }

  it('a GET to a WebSocket endpoint over HTTP/2 gets 405 with Allow: CONNECT from handleRequest()', async (t) => {
    const { h2 } = await echoServer(t);
    const session = await openSession(t, h2.origin);
    const get = session.request({ ':path': '/echo' });
    const [headers] = (await within(once(get, 'response'), 5_000, 'the GET answer')) as [Record<string, unknown>];
    assert.equal(headers[':status'], 405);
    assert.equal(headers.allow, 'CONNECT');
    get.resume();
    await within(once(get, 'end'), 5_000, 'the body');
  });

  it('a stream reset while authorize() decides opens nothing and crashes nothing', async (t) => {
    let decide: (ok: boolean) => void = () => {};
    let asked: (req: Http2ServerRequest) => void = () => {};
    const asking = new Promise<Http2ServerRequest>((resolve) => {
      asked = resolve;
    });
    const { h2, wss } = await echoServer(t, {
      // Only the request marked x-wait is held; the one after it passes at once.
      authorize: (req) =>
        req.headers['x-wait'] === undefined ||
        new Promise<boolean>((resolve) => {
          decide = resolve;
          asked(req as Http2ServerRequest);
        }),
    });
    const session = await openSession(t, h2.origin);
    const stream = session.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':path': '/echo',
        'sec-websocket-version': '13',
        'x-wait': '1',
      },
      { endStream: false },
    );
    stream.on('error', () => {});
    const held = await within(asking, 5_000, 'authorize to be called');
    stream.close(0x8);
    await within(once(held.stream, 'close'), 5_000, 'the server to see our reset');
    decide(true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(wss.clients.size, 0);
    const peer = await openH2Peer(t, session);
    await peer.sendText('next one');
    await peer.expectEcho('next one');
  });
});

describe('h2c (http2.createServer, no TLS)', () => {
  it('serves WebSockets through the core stream API; authorize() sees an Http2ServerRequest', async (t) => {
    const wss = new WebSocketServer({
      heartbeat: false,
      authorize: (req) => req.headers['x-token'] === 'let-me-in',
    });
    t.after(() => wss.close());
    wss.on('connection', (conn: Connection) => conn.on('message', (m) => conn.send(m.data)));
    const h2 = await startH2cServer(t, (server) => wss.attach(server, { path: '/echo' }));
    const session = await openSession(t, h2.origin);
    assert.equal((await extendedConnect(session, '/echo')).status, 403);
    const opened = nextConnection(wss);
    const peer = await openH2Peer(t, session, '/echo', { 'x-token': 'let-me-in' });
    await opened;
    await peer.sendText('plain text h2');
    await peer.expectEcho('plain text h2');
    await closeNormally(peer);
  });
});
