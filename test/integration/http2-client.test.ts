// Our client against our server over HTTP/2 (RFC 8441): connect(url, { http2 }) opens WebSockets as streams of one
// shared session per origin (or the caller's), falls back to HTTP/1.1 where the server does not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL, and survives streams reset mid-message and sessions that die with 100 open.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  type ClientHttp2Session,
  connect as h2connect,
  constants,
  createSecureServer,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { type ConnectOptions, connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { HandshakeError } from '../../src/errors.js';
import type { WebSocketRequest } from '../../src/handshake/pending-handshake.js';
import { type ServerOptions, WebSocketServer } from '../../src/server.js';
import { certificate, type H2Server, startH2Server } from '../helpers/h2.js';
import { inboxOf } from '../helpers/inbox.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitUntil, within } from '../helpers/raw-peer.js';
import { startProxy } from '../helpers/redis-nodes.js';

const WAIT = 5_000;
const TLS = { rejectUnauthorized: false } as const;

interface Echo {
  h2: H2Server;
  wss: WebSocketServer;
  url: string;
  requests: WebSocketRequest[];
  conns: Connection[];
}

async function echoServer(t: TestContext, options: ServerOptions = {}): Promise<Echo> {
  const wss = new WebSocketServer({ heartbeat: false, ...options });
  const requests: WebSocketRequest[] = [];
  const conns: Connection[] = [];
  wss.on('connection', (conn, req) => {
    requests.push(req);
    conns.push(conn);
    conn.on('message', (m) => conn.send(m.data));
  });
  const h2 = await startH2Server(t, (server) => wss.attach(server, { path: '/echo' }));
  t.after(() => wss.close());
  return { h2, wss, url: `wss://127.0.0.1:${h2.port}/echo`, requests, conns };
}

/** connect() with the test certificate accepted, closed (or left to die) when the test ends. */
async function dial(t: TestContext, url: string, options: ConnectOptions = {}): Promise<Connection> {
  const conn = await connect(url, { tls: TLS, ...options });
  t.after(() => conn.terminate());
  return conn;
}

async function echoes(conn: Connection, text: string): Promise<void> {
  const inbox = inboxOf(conn, WAIT, `the echo of ${text}`);
  conn.send(text);
  const m = await inbox.next();
  assert.deepEqual(m, { type: 'text', data: text });
}

describe('connect({ http2 }) opens WebSockets as HTTP/2 streams', () => {
  it('http2: true — 100 WebSockets to one origin share one session, which closes after the last of them', async (t) => {
    const { h2, url, requests } = await echoServer(t);
    const conns = await Promise.all(Array.from({ length: 100 }, () => dial(t, url, { http2: true })));
    assert.equal(h2.sessions.length, 1, 'one TCP+TLS connection');
    assert.ok(requests.every((r) => r.httpVersionMajor === 2));
    await Promise.all(conns.map((c, i) => echoes(c, `message ${i}`)));
    const session = h2.sessions[0]!;
    const sessionClosed = once(session, 'close');
    const infos = await Promise.all(conns.map((c) => c.close(1000)));
    assert.ok(
      infos.every((i) => i.wasClean && i.code === 1000),
      JSON.stringify(infos.filter((i) => !i.wasClean)),
    );
    await within(sessionClosed, WAIT, 'the pooled session to close once unused');
    // The next WebSocket to that origin opens a session of its own.
    const next = await dial(t, url, { http2: true });
    await echoes(next, 'a new session');
    assert.equal(h2.sessions.length, 2);
  });

  it('a server that allows 2 streams per session gets more sessions, also when the connects race its SETTINGS', async (t) => {
    const wss = new WebSocketServer({ heartbeat: false });
    t.after(() => wss.close());
    wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
    const h2 = await startH2Server(t, (server) => wss.attach(server), { settings: { maxConcurrentStreams: 2 } });
    const url = `wss://127.0.0.1:${h2.port}/`;
    const first = await dial(t, url, { http2: true });
    await echoes(first, 'one');
    // Five at once: the first session has room for one more; the other four are taken before a new session's SETTINGS
    // say 2, and two of them move on to a third.
    const more = await Promise.all(Array.from({ length: 5 }, () => dial(t, url, { http2: true })));
    await Promise.all(more.map((c, i) => echoes(c, `more ${i}`)));
    assert.equal(h2.sessions.length, 3);
  });

  it('a server whose SETTINGS allow no streams fails the connect on its first session, opening no more', async (t) => {
    // SETTINGS_MAX_CONCURRENT_STREAMS 0 (RFC 9113 §6.5.2; a draining server may send it): no new session of that server
    // will have room either. This used to move the lease to a new session, and again, some 2,000 TCP+TLS connections
    // a second until the handshake timeout.
    const wss = new WebSocketServer({ heartbeat: false });
    t.after(() => wss.close());
    const h2 = await startH2Server(t, (server) => wss.attach(server), { settings: { maxConcurrentStreams: 0 } });
    const err = await within(
      connect(`wss://127.0.0.1:${h2.port}/`, { http2: true, tls: TLS, handshakeTimeout: 1_000 }).catch(
        (e: unknown) => e,
      ),
      WAIT,
      'the connect to settle',
    );
    assert.ok(err instanceof HandshakeError, String(err));
    assert.equal(err.code, 'ERR_CONNECT_FAILED');
    assert.match(err.message, /allows no streams/);
    assert.equal(h2.sessions.length, 1);
  });

  it('compression and subprotocols are negotiated over the stream', async (t) => {
    const { url } = await echoServer(t, { compression: 'dedicated', protocols: ['v2', 'v1'] });
    const conn = await dial(t, url, { http2: true, compression: 'dedicated', protocols: ['v1', 'v2'] });
    assert.equal(conn.protocol, 'v2');
    assert.match(conn.extensions, /^permessage-deflate/);
    await echoes(conn, 'squeezed '.repeat(100));
  });

  it('http2: session — the caller’s own session carries the WebSockets and outlives them', async (t) => {
    const { h2, url } = await echoServer(t);
    const session: ClientHttp2Session = h2connect(h2.origin, TLS);
    t.after(() => session.close());
    const a = await dial(t, url, { http2: session });
    const b = await dial(t, url, { http2: session });
    await echoes(a, 'a');
    await echoes(b, 'b');
    await a.close();
    await b.close();
    assert.equal(session.closed, false);
    assert.equal(h2.sessions.length, 1);
  });

  it('a bad http2 option throws at once', () => {
    assert.throws(() => connect('wss://127.0.0.1:1/', { http2: 'yes' as never }), /http2 must be true, false/);
  });
});

describe('falling back to HTTP/1.1', () => {
  it('when the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL', async (t) => {
    const { key, cert } = await certificate();
    const wss = new WebSocketServer({ heartbeat: false });
    t.after(() => wss.close());
    const versions: string[] = [];
    wss.on('connection', (conn, req) => {
      versions.push(req.httpVersion);
      conn.on('message', (m) => conn.send(m.data));
    });
    // An h2 server that handles HTTP/1.1 upgrades itself, without attach(): no extended CONNECT.
    const server = createSecureServer({ key, cert, allowHTTP1: true });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));
    const sessions: string[] = [];
    server.on('session', () => sessions.push('h2'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const conn = await dial(t, `wss://127.0.0.1:${(server.address() as AddressInfo).port}/`, { http2: true });
    await echoes(conn, 'over http/1.1 after all');
    assert.deepEqual(versions, ['1.1']);
    assert.deepEqual(sessions, ['h2'], 'HTTP/2 was tried first');
  });

  it('when the server speaks no HTTP/2 (https without h2 in ALPN), and over ws:// to an HTTP/1.1 server', async (t) => {
    const { key, cert } = await certificate();
    const wss = new WebSocketServer({ heartbeat: false });
    t.after(() => wss.close());
    wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
    const https = createHttpsServer({ key, cert });
    wss.attach(https);
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    t.after(() => https.close());
    const secure = await dial(t, `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`, { http2: true });
    await echoes(secure, 'tls, http/1.1');
    // Prior-knowledge h2c against an HTTP/1.1 server: it answers our preface with an HTTP error.
    const { port } = await wss.listen(0, '127.0.0.1');
    const plain = await dial(t, `ws://127.0.0.1:${port}/`, { http2: true });
    await echoes(plain, 'plain text, http/1.1');
  });

  it('but not when the server cannot be reached, nor when it refuses the WebSocket', async (t) => {
    const refused = await connect('wss://127.0.0.1:1/', { http2: true, tls: TLS }).catch((e: unknown) => e);
    assert.ok(refused instanceof HandshakeError && refused.status === 0 && /connection failed/.test(refused.message));
    const { url } = await echoServer(t, { authorize: () => 403 });
    const denied = await connect(url, { http2: true, tls: TLS }).catch((e: unknown) => e);
    assert.ok(denied instanceof HandshakeError && denied.status === 403, String(denied));
  });
});

describe('timeouts and aborts reset the stream, not the session', () => {
  /** An h2 server that advertises RFC 8441 and never answers a CONNECT; its streams are handed to the test. */
  async function silentServer(t: TestContext): Promise<{ url: string; streams: ServerHttp2Stream[] }> {
    const streams: ServerHttp2Stream[] = [];
    const h2 = await startH2Server(
      t,
      (server) => {
        // node's compatibility layer answers a CONNECT nobody listens for with 405: listen, and say nothing.
        server.on('connect', () => {});
        server.on('stream', (stream) => {
          stream.on('error', () => {});
          streams.push(stream);
        });
      },
      { settings: { enableConnectProtocol: true } },
    );
    return { url: `wss://127.0.0.1:${h2.port}/`, streams };
  }

  it('handshakeTimeout: ERR_HANDSHAKE_TIMEOUT, and the server sees the stream cancelled', async (t) => {
    const { url, streams } = await silentServer(t);
    const clock = new ManualClock();
    const pending = connect(url, { http2: true, tls: TLS, clock, handshakeTimeout: 1000 });
    await waitUntil(() => streams.length === 1, 'the CONNECT to arrive');
    clock.advance(1000);
    await assert.rejects(pending, (e: unknown) => e instanceof HandshakeError && e.code === 'ERR_HANDSHAKE_TIMEOUT');
    await within(once(streams[0]!, 'close'), WAIT, 'the server stream to close');
    assert.equal(streams[0]!.rstCode, constants.NGHTTP2_CANCEL);
  });

  it('an AbortSignal: ERR_ABORTED', async (t) => {
    const { url, streams } = await silentServer(t);
    const abort = new AbortController();
    const pending = connect(url, { http2: true, tls: TLS, signal: abort.signal });
    await waitUntil(() => streams.length === 1, 'the CONNECT to arrive');
    abort.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof HandshakeError && e.code === 'ERR_ABORTED');
    await within(once(streams[0]!, 'close'), WAIT, 'the server stream to close');
  });
});

describe('streams and sessions that fail', () => {
  it('a stream reset mid-message: the server sees 1006, the session’s other WebSockets go on', async (t) => {
    const { url, conns } = await echoServer(t);
    const a = await dial(t, url, { http2: true });
    const b = await dial(t, url, { http2: true });
    await waitUntil(() => conns.length === 2, 'both server connections');
    const writer = a.writer('text');
    await writer.write('the first half of a message, ');
    await waitUntil(() => conns[0]!.readCount > 0, 'the first fragment to arrive');
    a.terminate();
    assert.equal((await within(conns[0]!.closed, WAIT, 'the server side to close')).code, 1006);
    assert.equal((await a.closed).code, 1006);
    await echoes(b, 'still open');
  });

  it('a session that dies with 100 streams open: 1006 on both ends for each, and the next connect gets a new session', async (t) => {
    const { h2, conns } = await echoServer(t);
    const proxy = await startProxy(t, h2.port);
    const via = `wss://127.0.0.1:${new URL(proxy.url).port}/echo`;
    const clients = await Promise.all(Array.from({ length: 100 }, () => dial(t, via, { http2: true })));
    await waitUntil(() => conns.length === 100, 'the 100 server connections');
    await proxy.cut();
    const ends = await within(
      Promise.all([...clients, ...conns].map((c) => c.closed)),
      WAIT,
      'every WebSocket to close with its session',
    );
    assert.ok(
      ends.every((e) => e.code === 1006 && !e.wasClean),
      JSON.stringify(ends.find((e) => e.code !== 1006)),
    );
    await proxy.restore();
    const again = await dial(t, via, { http2: true });
    await echoes(again, 'a fresh session');
  });
});
