// Incoming permessage-deflate over real sockets (RFC 7692 §7.2.2), sent by a peer that compresses with real zlib
// streams: large messages are inflated in slices (other work runs between them), nextReader() streams a compressed
// message as it inflates with maxSize on the inflated bytes, a lagging reader stops the inflating, and invalid UTF-8
// in inflated text fails at once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { INFLATE_SLICE } from '../../src/connection/inflation.js';
import type { ServerOptions } from '../../src/index.js';
import { prng, textOfSize, zeroBomb } from '../helpers/deflate-peer.js';
import { deflatePair } from '../helpers/deflate-pair.js';
import { encodeFrame, Op, waitUntil, within } from '../helpers/raw-peer.js';

const WAIT = 10_000;
const MiB = 1024 * 1024;

/** A compression-negotiating server (dedicated unless `options` say otherwise) and one peer. */
function pair(t: TestContext, options: ServerOptions = {}): ReturnType<typeof deflatePair> {
  return deflatePair(t, { compression: 'dedicated', ...options });
}

describe('large compressed messages are inflated in slices', () => {
  it('a 32 MiB message: timers run between slices, and it arrives whole', async (t) => {
    const { conn, peer } = await pair(t);
    const big = Buffer.alloc(32 * MiB, 'a');
    big.write('the start', 0);
    big.write('the end', big.length - 7);
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns++;
      if (counting) setImmediate(tick);
    };
    const got = once(conn, 'message') as Promise<[{ type: string; data: string }]>;
    await peer.send(big, { type: 'text' });
    setImmediate(tick);
    const [msg] = await within(got, WAIT, 'the message');
    counting = false;
    assert.equal(msg.data.length, big.length);
    assert.ok(msg.data.startsWith('the start') && msg.data.endsWith('the end'));
    // 32 MiB in slices of INFLATE_SLICE: other callbacks ran in between.
    assert.ok(turns >= 8, `only ${turns} turns ran while ${big.length / INFLATE_SLICE} slices were inflated`);
  });

  it('a large compressed message, then a small one: inflated, joined in slices, delivered in order', async (t) => {
    const { conn, peer } = await pair(t);
    // Highly compressible, so the whole frame arrives in one read and most of the inflating (and the join) happens
    // in later turns, after the parser has seen the frame's end: the small message is already waiting behind it.
    const big = Buffer.alloc(12 * MiB, 'switchboard ');
    big.write('the end', big.length - 7);
    const got: string[] = [];
    const both = new Promise<void>((resolve) => {
      conn.on('message', (msg) => {
        got.push(msg.type === 'binary' && msg.data.equals(big) ? 'big, whole' : String(msg.data).slice(0, 20));
        if (got.length === 2) resolve();
      });
    });
    // Both in one write: the small one is parsed only once the large one, inflated and joined, is delivered.
    const compressed = await peer.compress(big);
    await peer.raw.sendRaw(
      Buffer.concat([
        encodeFrame({ opcode: Op.Binary, payload: compressed, rsv: 4 }),
        encodeFrame({ opcode: Op.Text, payload: 'after' }),
      ]),
    );
    await within(both, WAIT, 'both messages');
    assert.deepEqual(got, ['big, whole', 'after']);
  });

  it('a bomb still stops at the limit, sliced or not: 1009', async (t) => {
    const { peer } = await pair(t, { maxMessageSize: 4 * MiB });
    await peer.sendPayload(await zeroBomb(64 * MiB), { rsv1: true });
    await peer.raw.expectClose(1009);
  });

  it('invalid UTF-8 in the inflated text of a large message fails with 1007 before the rest is inflated', async (t) => {
    const { conn, peer } = await pair(t);
    const bad = Buffer.alloc(16 * MiB, 'x');
    bad[10] = 0xff;
    const closed = conn.closed;
    await peer.send(bad, { type: 'text' });
    await peer.raw.expectClose(1007);
    assert.equal((await closed).code, 1007);
  });
});

describe('nextReader() streams a compressed message as it inflates', () => {
  it('maxSize applies to the inflated bytes, above maxMessageSize', async (t) => {
    const { conn, peer } = await pair(t, { maxMessageSize: 1 * MiB });
    const text = textOfSize(5 * MiB, prng(7));
    const reading = conn.nextReader({ maxSize: 8 * MiB });
    await peer.send(text, { type: 'text', fragment: 64 * 1024 });
    const reader = await within(reading, WAIT, 'the reader');
    const parts: Buffer[] = [];
    for await (const chunk of reader) parts.push(chunk as Buffer);
    assert.equal(Buffer.concat(parts).toString(), text);
    assert.ok(parts.length > 1, 'delivered in pieces as it was inflated');
  });

  it('over the reader’s maxSize once inflated: 1009', async (t) => {
    const { conn, peer } = await pair(t);
    const reading = conn.nextReader({ maxSize: 100_000 });
    await peer.send(Buffer.alloc(200_000, 'z'), { type: 'text' });
    const reader = await within(reading, WAIT, 'the reader');
    reader.on('error', () => {});
    reader.resume();
    await peer.raw.expectClose(1009);
  });

  it('a reader that does not read holds the inflating: memory stays near its buffer, then it all arrives', async (t) => {
    const { conn, peer } = await pair(t);
    const size = 48 * MiB;
    const reading = conn.nextReader({ maxSize: size });
    await peer.send(Buffer.alloc(size, 'q'), { type: 'binary' });
    const reader = await within(reading, WAIT, 'the reader');
    // Give the inflater every chance to run ahead of the reader.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.ok(reader.readableLength < 4 * INFLATE_SLICE, `${reader.readableLength} bytes inflated ahead of the reader`);
    let n = 0;
    for await (const chunk of reader) n += (chunk as Buffer).length;
    assert.equal(n, size);
  });

  for (const compress of [true, false]) {
    it(`a reader's 'data' listener that throws fails the connection with 1011, not as the peer's fault (${compress ? 'compressed' : 'uncompressed'})`, async (t) => {
      const { conn, peer } = await pair(t);
      const errors: Error[] = [];
      conn.on('error', (err) => errors.push(err));
      const reading = conn.nextReader();
      // In frames that arrive a turn apart: after the first, each chunk reaches the listener inside the library's
      // own push(). (Bytes already buffered are emitted by node's stream machinery, where a throw is uncaught, as
      // for any Readable.)
      const sent = peer.send(textOfSize(200_000, prng(9)), { type: 'text', compress, fragment: 16 * 1024, chop: 4096 });
      const reader = await within(reading, WAIT, 'the reader');
      reader.on('error', () => {});
      let calls = 0;
      reader.on('data', () => {
        if (++calls === 2) throw new Error('the application’s own bug');
      });
      await sent;
      const closed = await peer.raw.expectClose(1011, WAIT);
      assert.ok(!closed.reason.includes('bug'), `the peer is not told the application's error: ${closed.reason}`);
      await waitUntil(() => errors.length > 0, 'the connection reports the failure', WAIT);
      assert.equal((errors[0] as Error & { code?: string }).code, 'ERR_HANDLER_FAILED');
      assert.equal((errors[0] as Error & { cause?: Error }).cause?.message, 'the application’s own bug');
    });
  }

  it('a lagging reader destroyed mid-message (a pipeline whose destination failed) does not hold the connection', async (t) => {
    const { conn, peer } = await pair(t);
    const reading = conn.nextReader({ maxSize: 16 * MiB });
    const sent = peer.send(Buffer.alloc(16 * MiB, 'q'), { type: 'binary', fragment: 64 * 1024 });
    const reader = await within(reading, WAIT, 'the reader');
    // The reader lags until inflating waits for it, then its consumer gives up without reading on, as pipeline()
    // does when the destination fails.
    await waitUntil(() => conn.isPaused, 'the lagging reader pauses the connection', WAIT);
    reader.destroy();
    await within(sent, WAIT, 'the message to be sent');
    // The rest of the message is inflated and dropped; frames after it are read and answered.
    await peer.raw.sendRaw(encodeFrame({ opcode: Op.Ping, payload: Buffer.from('still there?') }));
    await peer.raw.expectPong('still there?', WAIT);
    await peer.send('next', { type: 'text' });
    const [msg] = await within(once(conn, 'message'), WAIT, 'the next message');
    assert.deepEqual(msg, { type: 'text', data: 'next' });
  });
});
