// Streaming one large message (Connection#nextReader / #writer, RFC 6455 §5.4 fragmentation) over real sockets:
// a 1 GiB round trip in bounded memory, nextReader({ maxSize }), ordering of sends made while a writer is open,
// and readers that end in an error when the peer vanishes or breaks the protocol.
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, type ConnectOptions } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { MessageReader } from '../../src/connection/streams.js';
import type { Message } from '../../src/connection/types.js';
import { Hub } from '../../src/hub.js';
import { type ServerOptions, WebSocketServer } from '../../src/server.js';
import { Op, openPeer, waitUntil, within } from '../helpers/raw-peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

interface Pair {
  wss: WebSocketServer;
  port: number;
  client: Connection;
  server: Connection;
}

/** A server and one client; `onServer` runs synchronously in the 'connection' handler (before any data arrives). */
async function pair(
  t: TestContext,
  serverOptions: ServerOptions = {},
  clientOptions: ConnectOptions = {},
  onServer: (conn: Connection) => void = () => {},
): Promise<Pair> {
  const wss = new WebSocketServer({ heartbeat: false, ...serverOptions });
  const { port } = await wss.listen(0, '127.0.0.1');
  t.after(() => wss.close());
  const accepted = new Promise<Connection>((resolve) =>
    wss.once('connection', (conn) => {
      onServer(conn);
      resolve(conn);
    }),
  );
  const client = await connect(`ws://127.0.0.1:${port}/`, clientOptions);
  t.after(() => client.terminate());
  return { wss, port, client, server: await within(accepted, 5_000, 'the server connection') };
}

/** `total` bytes of pseudo-random 64 KiB chunks: windows at shifting offsets of a random pool, hashed as produced. */
function randomSource(total: number): { stream: Readable; digest: () => string } {
  const pool = randomFillSync(Buffer.allocUnsafe(4 * MiB + 64 * KiB));
  const hash = createHash('sha256');
  let sent = 0;
  let i = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * KiB, total - sent);
      const at = (i++ * 40_009) % (4 * MiB);
      const chunk = pool.subarray(at, at + n);
      hash.update(chunk);
      sent += n;
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/** A pass-through that hashes and counts what flows through it. */
function hashTap(): { tap: Transform; digest: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, digest: () => hash.digest('hex'), bytes: () => bytes };
}

async function drainHash(reader: MessageReader): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of reader as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { digest: hash.digest('hex'), bytes };
}

describe('large streamed messages', () => {
  it('1 GiB round trip: client writer → server reader (hashed) → server writer → client reader, RSS bounded', async (t) => {
    const TOTAL = 1 * GiB;
    // The limit stays at its default (16 MiB) for ordinary messages; the readers lift it for the one streamed message.
    let serverSide: { digest: string; bytes: number } | null = null;
    let echoDone: Promise<void> = Promise.resolve();
    const p = await pair(t, {}, { maxFragments: 1 << 20 }, (conn) => {
      echoDone = conn.nextReader({ maxSize: 2 * GiB }).then(async (reader) => {
        assert.equal(reader.type, 'binary');
        const h = hashTap();
        await pipeline(reader, h.tap, conn.writer('binary'));
        serverSide = { digest: h.digest(), bytes: h.bytes() };
      });
    });
    const back = p.client.nextReader({ maxSize: 2 * GiB });
    const source = randomSource(TOTAL);

    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }, 50);
    t.after(() => clearInterval(sampler));
    const started = performance.now();

    const [, , received] = await Promise.all([
      pipeline(source.stream, p.client.writer('binary')),
      echoDone,
      back.then(drainHash),
    ]);
    clearInterval(sampler);
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    const seconds = (performance.now() - started) / 1000;
    const growth = rssMax - rss0;
    t.diagnostic(
      `1 GiB each way in ${seconds.toFixed(1)} s; RSS ${(rss0 / MiB).toFixed(0)} → peak ${(rssMax / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(0)} MiB)`,
    );

    const sent = source.digest();
    assert.ok(serverSide);
    const s = serverSide as { digest: string; bytes: number };
    assert.equal(s.bytes, TOTAL);
    assert.equal(s.digest, sent, 'the server read exactly what the client wrote');
    assert.equal(received.bytes, TOTAL);
    assert.equal(received.digest, sent, 'the client read back exactly the same bytes');
    assert.ok(growth < 200 * MiB, `RSS grew by ${(growth / MiB).toFixed(0)} MiB`);
    assert.equal(p.wss.stats.messagesIn, 1);
    assert.ok(p.wss.stats.bytesIn > TOTAL && p.wss.stats.bytesOut > TOTAL);
  });

  it('without maxSize a streamed message keeps maxMessageSize: 1009, and the reader errors', async (t) => {
    let reader: Promise<MessageReader> | null = null;
    const p = await pair(t, { maxMessageSize: 1 * MiB }, {}, (conn) => {
      reader = conn.nextReader();
    });
    const w = p.client.writer('binary');
    w.on('error', () => {});
    w.write(Buffer.alloc(600 * KiB));
    w.write(Buffer.alloc(600 * KiB));
    w.end();
    const r = await within(reader!, 5_000, 'the reader');
    r.resume();
    const [err] = await within(
      once(r, 'error').catch((e: unknown) => [e]),
      5_000,
      'the reader to error',
    );
    assert.equal((err as { code?: string }).code, 'ERR_CLOSED');
    assert.equal((await within(p.client.closed, 5_000, 'client closed')).code, 1009);
  });

  it('maxSize covers one message only: the next ordinary message over maxMessageSize still gets 1009', async (t) => {
    let reader: Promise<MessageReader> | null = null;
    const p = await pair(t, { maxMessageSize: 1 * MiB }, {}, (conn) => {
      reader = conn.nextReader({ maxSize: 4 * MiB });
    });
    const big = randomFillSync(Buffer.alloc(3 * MiB));
    p.client.send(big);
    const got = await drainHash(await within(reader!, 5_000, 'the reader'));
    assert.equal(got.bytes, big.length);
    assert.equal(got.digest, createHash('sha256').update(big).digest('hex'));
    p.client.send(big);
    assert.equal((await within(p.client.closed, 5_000, 'client closed')).code, 1009);
  });

  it('rejects a maxSize that is not a positive integer, at once', async (t) => {
    const p = await pair(t);
    assert.throws(() => p.server.nextReader({ maxSize: 0 }), RangeError);
    assert.throws(() => p.server.nextReader({ maxSize: 1.5 }), RangeError);
  });
});

describe('ordering and failures', () => {
  it('sends made while a writer is open are delivered after the streamed message, in order', async (t) => {
    const messages: Message[] = [];
    let reader: Promise<MessageReader> | null = null;
    const p = await pair(t, {}, {}, (conn) => {
      reader = conn.nextReader();
      conn.on('message', (m) => messages.push(m));
    });
    const w = p.client.writer('text');
    w.write('streamed ');
    assert.equal(p.client.send('after 1'), true);
    w.write('in ');
    p.client.send(Buffer.from([2]));
    w.write('pieces');
    p.client.send('after 3');
    w.end();
    const r = await within(reader!, 5_000, 'the reader');
    assert.equal(r.type, 'text');
    const chunks: Buffer[] = [];
    for await (const c of r as AsyncIterable<Buffer>) chunks.push(c);
    assert.equal(Buffer.concat(chunks).toString(), 'streamed in pieces');
    const end = Date.now() + 5_000;
    while (messages.length < 3) {
      assert.ok(Date.now() < end, 'the three later messages');
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(messages, [
      { type: 'text', data: 'after 1' },
      { type: 'binary', data: Buffer.from([2]) },
      { type: 'text', data: 'after 3' },
    ]);
  });

  it('hub publishes to a connection whose writer is open follow the streamed message instead of being skipped', async (t) => {
    const p = await pair(t);
    const hub = new Hub();
    hub.subscribe(p.server, 'news');
    const back = p.client.nextReader();
    const later: Message[] = [];
    p.client.on('message', (m) => later.push(m));
    const w = p.server.writer('binary');
    w.write(Buffer.from('part one, '));
    assert.equal(hub.publish('news', 'published mid-stream'), 1);
    w.end(Buffer.from('part two'));
    assert.equal(hub.stats.skipped, 0);
    const chunks: Buffer[] = [];
    for await (const c of (await back) as AsyncIterable<Buffer>) chunks.push(c);
    assert.equal(Buffer.concat(chunks).toString(), 'part one, part two');
    const end = Date.now() + 5_000;
    while (later.length < 1) {
      assert.ok(Date.now() < end, 'the published message');
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(later, [{ type: 'text', data: 'published mid-stream' }]);
  });

  it('a lagging reader destroyed mid-message (a pipeline whose destination failed) does not hold the connection', async (t) => {
    let reader: Promise<MessageReader> | null = null;
    const p = await pair(t, { maxMessageSize: 64 * MiB }, {}, (conn) => {
      reader = conn.nextReader();
    });
    const w: Writable = p.client.writer('binary');
    w.on('error', () => {});
    // More than the socket buffers hold: the server stops reading while its reader lags.
    for (let i = 0; i < 64; i++) w.write(Buffer.alloc(256 * KiB, 1));
    w.end();
    const r = await within(reader!, 5_000, 'the reader');
    await waitUntil(() => p.server.isPaused, 'the lagging reader pauses the connection', 5_000);
    // Its consumer gives up without reading on, as pipeline() does when the destination fails.
    r.destroy();
    // The rest of the message is read and dropped; the message after it arrives.
    const next = within(once(p.server, 'message'), 5_000, 'the message after the abandoned one');
    p.client.send('after');
    const [msg] = await next;
    assert.deepEqual(msg, { type: 'text', data: 'after' });
  });

  it('a reader whose peer vanishes mid-message errors with ERR_CLOSED', async (t) => {
    let reader: Promise<MessageReader> | null = null;
    const p = await pair(t, {}, {}, (conn) => {
      reader = conn.nextReader();
    });
    const w: Writable = p.client.writer('binary');
    w.on('error', () => {});
    w.write(Buffer.alloc(256 * KiB, 1));
    const r = await within(reader!, 5_000, 'the reader');
    await within(once(r, 'data'), 5_000, 'the first bytes');
    const failed = within(once(r, 'error'), 5_000, 'the reader to error');
    r.resume();
    p.client.terminate();
    const [err] = await failed;
    assert.equal((err as { code?: string }).code, 'ERR_CLOSED');
    assert.match((err as Error).message, /1006/);
  });

  it('a streamed text message with invalid UTF-8 in a single frame fails with 1007 and errors the reader', async (t) => {
    const wss = new WebSocketServer({ heartbeat: false });
    const { port } = await wss.listen(0, '127.0.0.1');
    t.after(() => wss.close());
    let reader: Promise<MessageReader> | null = null;
    wss.on('connection', (conn) => {
      reader = conn.nextReader();
    });
    const peer = await openPeer(t, port, { path: '/' });
    await peer.send({ opcode: Op.Text, payload: Buffer.from([0x68, 0x69, 0xff, 0xfe]) });
    await peer.expectClose(1007);
    const r = await within(reader!, 5_000, 'the reader');
    const [err] = await within(
      once(r, 'error').catch((e: unknown) => [e]),
      5_000,
      'the reader to error',
    );
    assert.equal((err as { code?: string }).code, 'ERR_CLOSED');
  });
});
