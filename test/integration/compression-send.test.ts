// Outgoing permessage-deflate over real sockets (RFC 7692 §7.2.1), read by a peer that inflates with real zlib
// streams: large messages compressed off the event loop keep their order (with the close after them), writer()
// streams compressed fragments, and a PreparedMessage is compressed once for every peer that can share it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Connection, ReadyState, WebSocketServer } from '../../src/index.js';
import { PreparedMessage } from '../../src/connection/prepared-message.js';
import { SYNC_DEFLATE_MAX } from '../../src/extensions/deflate-sender.js';
import { DeflatePeer, prng, textOfSize } from '../helpers/deflate-peer.js';
import { deflatePair } from '../helpers/deflate-pair.js';
import { within } from '../helpers/raw-peer.js';

const WAIT = 10_000;
const MiB = 1024 * 1024;

for (const mode of ['dedicated', 'shared'] as const) {
  describe(`large messages are compressed off the event loop and keep their order (${mode})`, () => {
    it('small, 4 MiB, small, then close: all arrive in order, compressed, and the close comes last', async (t) => {
      const { wss, conn, peer } = await deflatePair(t, { compression: mode });
      const big = Buffer.from(textOfSize(4 * MiB, prng(1)));
      assert.ok(big.length > SYNC_DEFLATE_MAX);
      const bytesBefore = wss.stats.bytesOut;
      conn.send('first');
      conn.send(big);
      // Compressed on the threadpool: nothing of it is written yet, but it counts as held.
      assert.ok(conn.bufferedAmount >= big.length, 'the pending compression counts toward bufferedAmount');
      const outAfterSend = wss.stats.bytesOut;
      conn.send('last');
      const closing = conn.close(1000, 'done');
      assert.ok(outAfterSend - bytesBefore < 100, 'the 4 MiB message was not written synchronously');
      const first = await peer.nextMessage(WAIT);
      assert.equal(first.data.toString(), 'first');
      const second = await peer.nextMessage(WAIT);
      assert.equal(second.compressed, true);
      assert.ok(second.wire.length < big.length / 2, `compressed on the wire: ${second.wire.length}`);
      assert.ok(second.data.equals(big), 'the 4 MiB message arrives whole');
      const third = await peer.nextMessage(WAIT);
      assert.equal(third.data.toString(), 'last');
      const close = await peer.raw.nextFrame(WAIT);
      assert.equal(close.opcode, 0x8);
      assert.equal(close.payload.readUInt16BE(0), 1000);
      assert.equal(close.payload.subarray(2).toString(), 'done');
      await peer.raw.sendClose(1000);
      assert.equal((await within(closing, WAIT, 'the close')).code, 1000);
    });

    it('drained() waits for a message being compressed', async (t) => {
      const { conn, peer } = await deflatePair(t, { compression: mode });
      conn.send(Buffer.from(textOfSize(2 * MiB, prng(2))));
      let drained = false;
      const waiting = conn.drained().then(() => {
        drained = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(drained, false);
      const msg = await peer.nextMessage(WAIT);
      assert.equal(msg.data.length, 2 * MiB);
      await within(waiting, WAIT, 'drained()');
    });
  });

  describe(`writer() sends a compressed message as compressed fragments (${mode})`, () => {
    it('RSV1 on the first fragment only; the peer inflates the whole; later messages still decode', async (t) => {
      const { conn, peer } = await deflatePair(t, { compression: mode });
      const pieces = [textOfSize(3000, prng(3)), textOfSize(200_000, prng(4)), 'tail', ''];
      const writer = conn.writer('text');
      for (const p of pieces) writer.write(p);
      writer.end();
      conn.send('after the stream');
      const msg = await peer.nextMessage(WAIT);
      assert.equal(msg.type, 'text');
      assert.equal(msg.compressed, true);
      assert.ok(msg.frames >= 3, `${msg.frames} frames`);
      assert.equal(msg.data.toString(), pieces.join(''));
      assert.ok(msg.wire.length < msg.data.length / 2, 'compressed on the wire');
      const after = await peer.nextMessage(WAIT);
      assert.equal(after.data.toString(), 'after the stream');
      // With context takeover the next message may refer back into the streamed one; it must still decode.
      conn.send(pieces[1]!);
      assert.equal((await peer.nextMessage(WAIT)).data.toString(), pieces[1]);
    });

    it('compress: false streams the message as it is', async (t) => {
      const { conn, peer } = await deflatePair(t, { compression: mode });
      const writer = conn.writer('binary', { compress: false });
      writer.end(Buffer.alloc(5000, 7));
      const msg = await peer.nextMessage(WAIT);
      assert.equal(msg.compressed, false);
      assert.ok(msg.data.equals(Buffer.alloc(5000, 7)));
    });

    it('end(), then send(), then close(): the streamed message, the sent one, then the close', async (t) => {
      const { conn, peer } = await deflatePair(t, { compression: mode });
      const streamed = Buffer.from(textOfSize(SYNC_DEFLATE_MAX * 2, prng(6)));
      const writer = conn.writer('text');
      writer.end(streamed);
      // The writer has ended but its last fragment is still being compressed: the close must not cut it off.
      conn.send('sent after');
      const closing = conn.close(1000, 'after both');
      assert.ok((await peer.nextMessage(WAIT)).data.equals(streamed));
      assert.equal((await peer.nextMessage(WAIT)).data.toString(), 'sent after');
      const close = await peer.raw.nextFrame(WAIT);
      assert.equal(close.opcode, 0x8);
      assert.equal(close.payload.readUInt16BE(0), 1000);
      await peer.raw.sendClose(1000);
      assert.equal((await within(closing, WAIT, 'the close')).code, 1000);
    });

    it("an ended writer still being compressed finishes after the peer's close, then the close is answered", async (t) => {
      const { conn, peer } = await deflatePair(t, { compression: mode });
      const streamed = Buffer.from(textOfSize(SYNC_DEFLATE_MAX * 4, prng(7)));
      const writer = conn.writer('text');
      const failed: unknown[] = [];
      writer.on('error', (err) => failed.push(err));
      writer.end(streamed);
      await peer.raw.sendClose(1000, 'bye');
      const msg = await peer.nextMessage(WAIT);
      assert.ok(msg.data.equals(streamed), 'the message the writer had ended arrives whole');
      const close = await peer.raw.nextFrame(WAIT);
      assert.equal(close.opcode, 0x8);
      assert.equal(close.payload.readUInt16BE(0), 1000);
      assert.equal((await within(conn.closed, WAIT, 'closed')).code, 1000);
      assert.deepEqual(failed, []);
    });

    it('a writer opened while a large message is being compressed waits its turn', async (t) => {
      const { conn, peer } = await deflatePair(t, { compression: mode });
      const big = Buffer.from(textOfSize(1 * MiB, prng(5)));
      conn.send(big);
      const writer = conn.writer('text');
      writer.end('streamed after');
      assert.ok((await peer.nextMessage(WAIT)).data.equals(big));
      assert.equal((await peer.nextMessage(WAIT)).data.toString(), 'streamed after');
    });

    it('a writer destroyed before its turn sent nothing: the large message, the next writer and later sends all arrive', async (t) => {
      const { conn, peer } = await deflatePair(t, { compression: mode });
      const big = Buffer.from(textOfSize(1 * MiB, prng(11)));
      conn.send(big);
      // Its first fragment waits for the channel: nothing of this message is on the wire or in the compressor.
      const destroyed = conn.writer('text');
      destroyed.write('never sent');
      destroyed.destroy();
      const next = conn.writer('text');
      next.write('second ');
      next.end('writer');
      conn.send('after');
      assert.ok((await peer.nextMessage(WAIT)).data.equals(big), 'the message sent before the writer arrives');
      assert.equal((await peer.nextMessage(WAIT)).data.toString(), 'second writer');
      assert.equal((await peer.nextMessage(WAIT)).data.toString(), 'after');
      assert.equal(conn.readyState, ReadyState.Open);
    });
  });
}

describe('PreparedMessage: framed once, compressed once for the peers that can share it', () => {
  it("'shared': one compression for many peers, each inflates the same message", async (t) => {
    const wss = new WebSocketServer({ heartbeat: false, compression: 'shared' });
    const { port } = await wss.listen(0);
    t.after(() => wss.close());
    const conns: Connection[] = [];
    wss.on('connection', (c) => conns.push(c));
    const peers: DeflatePeer[] = [];
    for (let i = 0; i < 5; i++) {
      const peer = await DeflatePeer.open(port);
      t.after(() => peer.close());
      peers.push(peer);
    }
    await within(
      (async () => {
        while (conns.length < 5) await new Promise((resolve) => setImmediate(resolve));
      })(),
      WAIT,
      'five connections',
    );
    for (const size of [2000, 2 * MiB]) {
      const text = textOfSize(size, prng(size));
      const pm = new PreparedMessage(text);
      for (const c of conns) c.sendPrepared(pm);
      for (const p of peers) {
        const msg = await p.nextMessage(WAIT);
        assert.equal(msg.compressed, true);
        assert.equal(msg.data.toString(), text);
      }
      assert.equal(pm.compressions, 1, `${size} B: compressed once for 5 peers`);
      assert.equal(pm.framesEncoded, 1);
    }
  });

  it('a text message must be valid UTF-8, checked when it is prepared', () => {
    assert.throws(() => new PreparedMessage(Buffer.from([0xc3, 0x28]), { binary: false }), TypeError);
    assert.equal(new PreparedMessage(Buffer.from([0xc3, 0x28])).type, 'binary');
    assert.equal(new PreparedMessage('hé').type, 'text');
  });
});
