// The demo apps on real sockets: the chat's validation and presence, the dashboard's samples, GET /metrics in the
// Prometheus text format, and the static file handler's refusal to leave apps/public.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { CHAT_LIMITS } from '../../apps/chat-protocol.js';
import type { DemoServer } from '../../apps/demo-server.js';
import { safeName } from '../../apps/static.js';
import { type Connection, connect, HandshakeError } from '../../src/index.js';
import { startTestDemo } from '../helpers/demo.js';
import { within } from '../helpers/raw-peer.js';
import { startRedisServer } from '../helpers/redis-server.js';

const WAIT = 5_000;

/** Collects a connection's JSON messages; next() waits (bounded) for the first unread one matching a predicate. */
function inbox(conn: Connection) {
  const seen: Array<Record<string, unknown>> = [];
  let wake: (() => void) | null = null;
  conn.on('message', (msg) => {
    seen.push(JSON.parse(msg.type === 'text' ? msg.data : msg.data.toString()) as Record<string, unknown>);
    wake?.();
  });
  let read = 0;
  return {
    seen,
    async next(match: (m: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
      const deadline = Date.now() + WAIT;
      for (;;) {
        for (; read < seen.length; read++) {
          const m = seen[read]!;
          if (match(m)) {
            read++;
            return m;
          }
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching message within ${WAIT} ms; got ${JSON.stringify(seen)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    },
  };
}

function get(
  url: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  // node:http sends the path as written (no `..` normalization), like a hostile client would.
  return new Promise((resolve, reject) => {
    const req = request(url, { method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line, e.g. metric('x_total', { endpoint: 'chat' }). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',').filter(Boolean);
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  throw new Error(`no sample ${name}{${want.join(',')}}`);
}

describe('demo apps', () => {
  let demo: DemoServer;
  let ws: string;
  const open: Connection[] = [];
  const dial = async (path: string): Promise<Connection> => {
    const conn = await connect(`${ws}${path}`);
    open.push(conn);
    return conn;
  };

  before(async () => {
    demo = await startTestDemo({
      maxMessageSize: 1 << 20,
      compression: 'dedicated',
      shutdownTimeout: 1000,
      dashboardInterval: 50,
    });
    ws = demo.url.replace('http:', 'ws:');
  });
  after(async () => {
    for (const c of open) c.terminate();
    await demo.close();
  });

  test('the chat answers each kind of bad input with an error and keeps the connection', async () => {
    const conn = await dial('/chat');
    const box = inbox(conn);
    const expectError = async (send: () => void, pattern: RegExp): Promise<void> => {
      send();
      const m = await box.next();
      assert.equal(m.type, 'error', JSON.stringify(m));
      assert.match(String(m.message), pattern);
    };
    const json = (v: unknown) => () => conn.send(JSON.stringify(v));
    await expectError(() => conn.send(Buffer.from('{}')), /binary/);
    await expectError(() => conn.send('{"type": "join",'), /not valid JSON/);
    await expectError(json([1, 2]), /JSON object/);
    await expectError(json({ type: 'shout', text: 'hi' }), /unknown message type "shout"/);
    await expectError(json({ type: 'say', text: 'early' }), /join a room/);
    await expectError(json({ type: 'join', room: 'lobby' }), /"name" must be a string/);
    await expectError(json({ type: 'join', room: 'lobby', name: '   ' }), /"name" must not be empty/);
    await expectError(
      json({ type: 'join', room: 'lobby', name: 'x'.repeat(CHAT_LIMITS.maxNameLength + 1) }),
      /"name" is too long/,
    );
    await expectError(
      json({ type: 'join', room: 'r'.repeat(CHAT_LIMITS.maxRoomLength + 1), name: 'ann' }),
      /"room" is too long/,
    );
    await expectError(json({ type: 'join', room: 'lobby', name: 'ann\u0007' }), /control characters/);
    await expectError(json({ type: 'join', room: 'lobby', name: 'ann\u202e' }), /control characters/);
    await expectError(json({ type: 'say', text: 'a'.repeat(CHAT_LIMITS.maxMessageBytes) }), /too large/);
    // Still served: a valid join is welcomed, and text with a control character is refused after it.
    conn.send(JSON.stringify({ type: 'join', room: 'Lobby', name: 'ann' }));
    const welcome = await box.next();
    const { history, epoch, token, ...rest } = welcome;
    assert.deepEqual(rest, { type: 'welcome', room: 'lobby', name: 'ann', members: ['ann'] });
    assert.deepEqual(history, []);
    assert.match(String(epoch), /^[0-9a-f-]{36}$/, 'the epoch of the memory history');
    assert.match(String(token), /^[0-9a-f-]{36}$/, 'a token to take the name back from a new connection');
    await box.next((m) => m.type === 'presence');
    await expectError(json({ type: 'say', text: 'line\nbreak' }), /"text" must not contain control characters/);
    await expectError(json({ type: 'say', text: 'b'.repeat(CHAT_LIMITS.maxTextLength + 1) }), /"text" is too long/);
    assert.equal(conn.readyState, 1);
  });

  test('chat: presence, one message to every member, names unique per room, history for late joiners', async () => {
    const ann = await dial('/chat');
    const bob = await dial('/chat');
    const a = inbox(ann);
    const b = inbox(bob);
    ann.send(JSON.stringify({ type: 'join', room: 'tea', name: 'ann' }));
    await a.next((m) => m.type === 'welcome');
    ann.send(JSON.stringify({ type: 'say', text: 'before bob' }));
    await a.next((m) => m.type === 'message');

    bob.send(JSON.stringify({ type: 'join', room: 'tea', name: 'ann' }));
    assert.match(String((await b.next()).message), /"ann" is taken/);
    bob.send(JSON.stringify({ type: 'join', room: 'tea', name: 'bob' }));
    const welcome = await b.next((m) => m.type === 'welcome');
    assert.deepEqual(welcome.members, ['ann', 'bob']);
    assert.deepEqual(
      (welcome.history as Array<{ name: string; text: string }>).map((h) => [h.name, h.text]),
      [['ann', 'before bob']],
    );
    const presence = await a.next((m) => m.type === 'presence' && m.joined === 'bob');
    assert.deepEqual(presence.members, ['ann', 'bob']);

    bob.send(JSON.stringify({ type: 'say', text: '  héllo ✓  ' }));
    for (const box of [a, b]) {
      const m = await box.next((x) => x.type === 'message');
      assert.equal(m.name, 'bob');
      assert.equal(m.text, 'héllo ✓');
      assert.equal(m.room, 'tea');
    }
    await bob.close();
    const left = await a.next((m) => m.type === 'presence' && m.left === 'bob');
    assert.deepEqual(left.members, ['ann']);
  });

  test('chat: a flood is refused with an error, not served', async () => {
    const conn = await dial('/chat');
    const box = inbox(conn);
    conn.send(JSON.stringify({ type: 'join', room: 'flood', name: 'fast' }));
    await box.next((m) => m.type === 'welcome');
    for (let i = 0; i < 40; i++) conn.send(JSON.stringify({ type: 'say', text: `m${i}` }));
    const err = await box.next((m) => m.type === 'error');
    assert.match(String(err.message), /too many messages/);
  });

  test('the dashboard sends its backlog, then a sample per interval with counters and prices', async () => {
    const conn = await dial('/dashboard');
    const box = inbox(conn);
    const first = await box.next();
    assert.equal(first.type, 'history');
    const s1 = await box.next((m) => m.type === 'sample');
    const s2 = await box.next((m) => m.type === 'sample');
    assert.ok((s1.connections as number) >= 1);
    assert.ok((s1.byEndpoint as Record<string, number>).dashboard! >= 1);
    assert.ok((s2.t as number) > (s1.t as number));
    assert.ok((s1.rss as number) > 0 && (s1.heapUsed as number) > 0);
    const prices = s2.prices as Record<string, number>;
    assert.deepEqual(Object.keys(prices).sort(), ['ACME', 'GLOBX', 'INIT', 'SWB']);
    for (const p of Object.values(prices)) assert.ok(Number.isFinite(p) && p > 0);
  });

  test('GET /metrics: per-endpoint counters and process metrics in the Prometheus text format', async () => {
    const chat = await dial('/chat');
    const box = inbox(chat);
    chat.send('not json');
    await box.next((m) => m.type === 'error');
    await assert.rejects(
      connect(`${ws}/chat`, { origin: 'http://evil.example' }),
      (e) => e instanceof HandshakeError && e.status === 403,
    );
    const echo = await dial('/echo');
    echo.send('ping');
    await new Promise((resolve) => echo.once('message', resolve));

    const res = await get(demo.url, '/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^# TYPE switchboard_messages_received_total counter$/m);
    assert.match(res.body, /^# HELP switchboard_connections_open /m);
    assert.ok(metric(res.body, 'switchboard_connections_open', { endpoint: 'chat' }) >= 1);
    assert.ok(metric(res.body, 'switchboard_connections_total', { endpoint: 'chat' }) >= 1);
    assert.ok(metric(res.body, 'switchboard_messages_received_total', { endpoint: 'chat' }) >= 1);
    assert.ok(metric(res.body, 'switchboard_handshake_failures_total', { endpoint: 'chat' }) >= 1);
    assert.ok(metric(res.body, 'switchboard_messages_received_total', { endpoint: 'echo' }) >= 1);
    assert.ok(metric(res.body, 'switchboard_received_bytes_total', { endpoint: 'echo' }) >= 4);
    assert.equal(metric(res.body, 'switchboard_heartbeat_kills_total', { endpoint: 'broadcast' }), 0);
    for (const name of ['dropped', 'evicted', 'protocol_errors'])
      assert.match(res.body, new RegExp(`^switchboard_\\w*${name}\\w*_total\\{endpoint="echo"\\} \\d+$`, 'm'));
    assert.ok(metric(res.body, 'switchboard_hub_published_total', { hub: 'chat' }) >= 0);
    assert.ok(metric(res.body, 'process_resident_memory_bytes') > 0);
    assert.ok(metric(res.body, 'nodejs_heap_size_used_bytes') > 0);
  });

  test('static files: pages with their content types, and nothing outside apps/public', async () => {
    const page = await get(demo.url, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.body, /<script type="module" src="\/chat.js">/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal((await get(demo.url, '/dashboard')).headers['content-type'], 'text/html; charset=utf-8');
    assert.equal((await get(demo.url, '/chat.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await get(demo.url, '/style.css')).headers['content-type'], 'text/css; charset=utf-8');
    const head = await get(demo.url, '/chat.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    for (const path of [
      '/../package.json',
      '/../../package.json',
      '/%2e%2e/package.json',
      '/..%2fpackage.json',
      '/..%5cpackage.json',
      '/%2e%2e%2f%2e%2e%2fpackage.json',
      '//etc/passwd',
      '/chat.html%00.js',
      '/.hidden.js',
      '/nope.js',
      '/%E0%A4%A',
    ]) {
      const res = await get(demo.url, path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body, /"name": "switchboard"|root:/, path);
    }
    assert.equal((await get(demo.url, '/', 'POST')).status, 404);
    assert.equal(safeName('/a/../b.js'), null);
    assert.equal(safeName('/sub/ok.js'), 'sub/ok.js');
  });

  test('ws /echo and ws /broadcast keep their contract', async () => {
    const echo = await dial('/echo');
    const got = new Promise((resolve) => echo.once('message', (m) => resolve(m.data)));
    echo.send('same bytes back');
    assert.equal(await got, 'same bytes back');
    const b1 = await dial('/broadcast');
    const b2 = await dial('/broadcast');
    const both = Promise.all([b1, b2].map((c) => new Promise((resolve) => c.once('message', (m) => resolve(m.data)))));
    b1.send('to all');
    assert.deepEqual(await both, ['to all', 'to all']);
  });
});

describe('a demo server that cannot listen', () => {
  test('with --redis: rejects with the listen error, and its Redis connections do not outlive it', async (t) => {
    const redis = await startRedisServer(t);
    const first = await startTestDemo();
    t.after(() => first.close());
    // Each command() is one short-lived connection of its own: it counts once in total_connections_received and
    // is the 1 in connected_clients.
    const info = async (): Promise<{ total: number; open: number }> => {
      const text = String(await redis.command(['INFO']));
      const field = (name: string): number => Number(new RegExp(`${name}:(\\d+)`).exec(text)?.[1]);
      return { total: field('total_connections_received'), open: field('connected_clients') };
    };
    const base = (await info()).total;
    await assert.rejects(startTestDemo({ port: first.port, redis: redis.url }), { code: 'EADDRINUSE' });
    // The hubs' Redis clients were dialling when the listen failed; wait until one has reached Redis, then until
    // every one of them is gone again (an abandoned one would stay, and hold the process open).
    let calls = 1;
    await within(
      (async () => {
        for (;;) {
          const now = await info();
          calls++;
          if (now.total > base + calls - 1 && now.open === 1) return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })(),
      3000,
      'the demo server’s Redis connections to close',
    );
  });
});
