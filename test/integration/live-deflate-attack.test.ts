// Attacks on live compressors (src/extensions/live-deflate.ts) over real sockets: every way a connection can end gives
// its compressor back to the pool, both roles share the one pool, connections beyond the cap still decode, and
// writer() streams interleaved with send() keep the peer's window in step. A connection's first message is compressed
// one-shot (only a connection seen to be busy takes a live compressor), so each test sends at least two.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Connection, connect, type Message, WebSocketServer } from '../../src/index.js';
import { livePool, MAX_LIVE_COMPRESSORS, WARM_GAP_BYTES } from '../../src/extensions/live-deflate.js';
import { SYNC_DEFLATE_MAX } from '../../src/extensions/deflate-sender.js';
import { startH2Server } from '../helpers/h2.js';
import { DeflatePeer, prng, textOfSize } from '../helpers/deflate-peer.js';
import { encodeFrame, Op, waitUntil, within } from '../helpers/raw-peer.js';

const WAIT = 10_000;

function echoServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): WebSocketServer {
  const wss = new WebSocketServer({ compression: 'dedicated', heartbeat: false, ...options });
  wss.on('connection', (conn: Connection) => conn.on('message', (m) => conn.send(m.data)));
  return wss;
}

function collect(conn: Connection, n: number): Promise<Message[]> {
  const got: Message[] = [];
  return within(
    new Promise<Message[]>((resolve, reject) => {
      conn.on('message', (m) => {
        got.push(m);
        if (got.length === n) resolve(got);
      });
      void conn.closed.then((i) => reject(new Error(`closed early ${i.code} ${i.reason}`)));
    }),
    WAIT,
    `${n} messages`,
  );
}

describe('live compressors: both roles, every end', () => {
  test('client and server over TCP share the pool and give both places back when the client closes', async (t) => {
    const wss = echoServer();
    const { port } = await wss.listen(0);
    t.after(() => wss.close());
    const before = livePool.size;
    const conn = await connect(`ws://127.0.0.1:${port}/`, { compression: 'dedicated' });
    const msgs = Array.from({ length: 30 }, (_, i) => textOfSize(500 + i * 97, prng(i + 1)));
    const echoes = collect(conn, msgs.length);
    for (const m of msgs) conn.send(m);
    assert.deepEqual(
      (await echoes).map((m) => m.data),
      msgs,
    );
    assert.equal(livePool.size, before + 2, 'one live compressor per side');
    const [server] = [...wss.clients];
    conn.close();
    await within(Promise.all([conn.closed, server!.closed]), WAIT, 'both ends closed');
    assert.equal(livePool.size, before);
  });

  test('over HTTP/2 (RFC 8441) the live compressors go back when the stream is reset', async (t) => {
    const wss = echoServer();
    const h2 = await startH2Server(t, (server) => wss.attach(server, { path: '/echo' }));
    t.after(() => wss.close());
    const before = livePool.size;
    const conn = await connect(`wss://127.0.0.1:${h2.port}/echo`, {
      tls: { rejectUnauthorized: false },
      http2: true,
      compression: 'dedicated',
    });
    const msg = textOfSize(3000, prng(3));
    const echo = collect(conn, 3);
    conn.send(msg);
    conn.send(msg);
    conn.send(msg);
    for (const m of await echo) assert.equal(m.data, msg);
    assert.equal(livePool.size, before + 2);
    const [server] = [...wss.clients];
    conn.terminate();
    await within(Promise.all([conn.closed, server!.closed]), WAIT, 'both ends closed');
    assert.equal(livePool.size, before);
  });

  test('a connection failed by a protocol error right after a live compression gives its place back', async (t) => {
    const wss = echoServer();
    const { port } = await wss.listen(0);
    t.after(() => wss.close());
    const before = livePool.size;
    const peer = await DeflatePeer.open(port, { path: '/' });
    t.after(() => peer.close());
    const msg = textOfSize(2000, prng(4));
    await peer.send(msg);
    await peer.expectEcho(msg);
    assert.equal(livePool.size, before, 'a first message goes one-shot');
    await peer.send(msg);
    await peer.expectEcho(msg);
    assert.equal(livePool.size, before + 1);
    const [server] = [...wss.clients];
    // A text frame with RSV2 set: 1002.
    await peer.raw.sendRaw(encodeFrame({ opcode: Op.Text, payload: Buffer.from('x'), rsv: 2 }));
    await within(server!.closed, WAIT, 'the failed connection closed');
    assert.equal(livePool.size, before);
  });

  test('wss.close() gives back every live compressor of its connections', async (t) => {
    const wss = echoServer();
    const { port } = await wss.listen(0);
    const before = livePool.size;
    const peers = await Promise.all(Array.from({ length: 20 }, () => DeflatePeer.open(port, { path: '/' })));
    // Also on failure: an open peer socket would keep this test file's process alive.
    t.after(async () => {
      for (const p of peers) p.close();
      await wss.close();
    });
    const msg = textOfSize(1500, prng(5));
    for (const p of peers) {
      for (let i = 0; i < 2; i++) {
        await p.send(msg);
        await p.expectEcho(msg);
      }
    }
    assert.equal(livePool.size, before + 20);
    await wss.close();
    await waitUntil(() => livePool.size === before, 'the pool emptied', WAIT);
  });

  test('more connections than the cap: every one decodes, and the pool is back to where it was after', async (t) => {
    const wss = echoServer({ compression: { mode: 'dedicated', threshold: 0 } });
    const { port } = await wss.listen(0);
    t.after(() => wss.close());
    const before = livePool.size;
    const n = MAX_LIVE_COMPRESSORS + 40;
    const peers: DeflatePeer[] = [];
    t.after(() => {
      for (const p of peers) p.close();
    });
    for (let i = 0; i < n; i += 50) {
      peers.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(50, n - i) }, () => DeflatePeer.open(port, { path: '/' })),
        )),
      );
    }
    const rand = prng(6);
    // Small enough that the other connections compress less than the warm gap between two of one connection's
    // messages, so every connection asks for a live compressor from its second message on.
    const size = Math.floor(WARM_GAP_BYTES / n) - 16;
    const msgs = Array.from({ length: 4 }, () => textOfSize(size, rand));
    for (const round of msgs) {
      await Promise.all(
        peers.map(async (p) => {
          await p.send(round);
          await p.expectEcho(round);
        }),
      );
    }
    assert.equal(livePool.size, MAX_LIVE_COMPRESSORS, 'the pool is full; the rest compress one-shot');
    for (const p of peers) p.close();
    await waitUntil(() => wss.clients.size === 0, 'every connection closed', WAIT);
    assert.equal(livePool.size, before);
  });
});

describe('live compressors: windows in step over real sockets', () => {
  test('writer() pieces interleaved with send(), messages of 0, 64 KiB and 64 KiB + 1, all decode', async (t) => {
    let server: Connection | null = null;
    const wss = new WebSocketServer({ compression: 'dedicated', heartbeat: false });
    wss.on('connection', (c: Connection) => {
      server = c;
    });
    const { port } = await wss.listen(0);
    t.after(() => wss.close());
    const peer = await DeflatePeer.open(port, { path: '/' });
    t.after(() => peer.close());
    await waitUntil(() => server !== null, 'the connection');
    const conn = server! as Connection;
    const rand = prng(7);
    const base = Buffer.from(textOfSize(200_000, rand));
    const expected: Buffer[] = [];
    const sizes = [1000, 0, SYNC_DEFLATE_MAX, 500, SYNC_DEFLATE_MAX + 1, 700, SYNC_DEFLATE_MAX - 1, 2000];
    for (let round = 0; round < 3; round++) {
      for (const [i, size] of sizes.entries()) {
        const off = (round * 7919 + i * 104_729) % (base.length - size);
        const msg = base.subarray(off, off + size);
        if (i % 3 === 2) {
          // A streamed message, while sends are queued behind it.
          const w = conn.writer('binary');
          const follow = base.subarray(off + 3, off + 903);
          conn.send(follow, { compress: true });
          w.write(msg.subarray(0, msg.length >> 1));
          await new Promise<void>((resolve) => w.end(msg.subarray(msg.length >> 1), () => resolve()));
          expected.push(Buffer.from(msg), Buffer.from(follow));
        } else {
          conn.send(msg, { compress: true });
          expected.push(Buffer.from(msg));
        }
      }
    }
    for (const [i, e] of expected.entries()) {
      const got = await peer.nextMessage(WAIT);
      assert.equal(got.compressed, true, `message ${i}`);
      assert.ok(got.data.equals(e), `message ${i} (${e.length} bytes) inflates to what was sent`);
    }
  });
});
