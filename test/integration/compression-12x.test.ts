// permessage-deflate over real sockets, Autobahn 12.x family (RFC 7692 §7.2, context takeover §7.1.1): a raw client
// with real zlib streams against the demo server's /echo in 'dedicated' and 'shared' mode; per-message control.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deflateRawSync, constants as zc } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_COMPRESSION_THRESHOLD } from '../../src/extensions/deflate-negotiation.js';
import { type Connection, WebSocketServer } from '../../src/index.js';
import { useDemo } from '../helpers/demo.js';
import { binaryOfSize, DeflatePeer, prng, textOfSize } from '../helpers/deflate-peer.js';
import { encodeFrame, Op } from '../helpers/raw-peer.js';

const SIZES = [16, 64, 256, 1024, 4096, 16 * 1024, 64 * 1024, 131072, 256 * 1024];
/** Shorter messages go out uncompressed. */
const THRESHOLD = DEFAULT_COMPRESSION_THRESHOLD;

function freshDeflateSize(data: Buffer): number {
  return deflateRawSync(data, { finishFlush: zc.Z_SYNC_FLUSH }).length - 4;
}

for (const mode of ['dedicated', 'shared'] as const) {
  describe(`Autobahn 12.x: /echo of the demo server, compression '${mode}'`, () => {
    const demo = useDemo({ maxMessageSize: 16 * 1024 * 1024, compression: mode, shutdownTimeout: 1000 });

    async function open(t: { after(fn: () => void): void }): Promise<DeflatePeer> {
      const peer = await DeflatePeer.open(demo.port);
      t.after(() => peer.close());
      return peer;
    }

    test('the handshake agrees on permessage-deflate as the mode says', async (t) => {
      const peer = await open(t);
      assert.equal(peer.agreement?.serverNoContextTakeover, mode === 'shared');
      assert.equal(peer.agreement?.clientNoContextTakeover, false);
      assert.equal(peer.agreement?.serverMaxWindowBits, 15);
      assert.equal(peer.agreement?.clientMaxWindowBits, 15);
    });

    test('12.1/12.2: text and binary echo at 16 B … 256 KiB, compressed both ways', async (t) => {
      const peer = await open(t);
      const rand = prng(12);
      for (const size of SIZES) {
        for (const type of ['text', 'binary'] as const) {
          const data = type === 'text' ? Buffer.from(textOfSize(size, rand)) : binaryOfSize(size, rand);
          await peer.send(data, { type });
          const echo = await peer.expectEcho(data, type);
          assert.equal(echo.compressed, size >= THRESHOLD, `${type} ${size} B: RSV1 ${echo.compressed}`);
          assert.equal(echo.frames, 1);
        }
      }
    });

    test('context takeover across 160 pipelined messages, both directions', async (t) => {
      const peer = await open(t);
      const rand = prng(1200);
      // The repeated ones (indexes 2 and 6) are above the default threshold, so the server's context shows too.
      const sizes = [32, 100, 2000, 500, 8000, 300, 1500, 12000];
      const messages: Array<{ data: Buffer; type: 'text' | 'binary' }> = [];
      for (let i = 0; i < 160; i++) {
        // Every fourth message repeats the one before: with context takeover it compresses to a handful of bytes.
        if (i % 4 === 3) {
          messages.push(messages[i - 1]!);
          continue;
        }
        const size = sizes[i % sizes.length]!;
        const type = i % 3 === 0 ? 'binary' : 'text';
        messages.push({ data: type === 'text' ? Buffer.from(textOfSize(size, rand)) : binaryOfSize(size, rand), type });
      }
      let wire = 0;
      let fresh = 0;
      for (const m of messages) {
        wire += (await peer.send(m.data, { type: m.type })).length;
        fresh += freshDeflateSize(m.data);
      }
      assert.ok(wire < fresh * 0.9, `the peer's stream should reuse context (${wire} vs ${fresh} bytes fresh)`);
      // Messages under the server's threshold go back as they are (checked elsewhere): compare the compressed ones.
      let serverWire = 0;
      let serverFresh = 0;
      for (const m of messages) {
        const echo = await peer.expectEcho(m.data, m.type);
        assert.equal(echo.compressed, m.data.length >= THRESHOLD);
        if (!echo.compressed) continue;
        serverWire += echo.wire.length;
        serverFresh += freshDeflateSize(m.data);
      }
      if (mode === 'dedicated')
        assert.ok(serverWire < serverFresh * 0.9, `server reuses context: ${serverWire} vs ${serverFresh}`);
      else
        assert.ok(
          serverWire >= serverFresh * 0.95,
          `'shared' must not take over context: ${serverWire} vs ${serverFresh}`,
        );
    });

    test(`a repeated incompressible message: ${mode === 'dedicated' ? 'tiny' : 'full-size'} the second time`, async (t) => {
      const peer = await open(t);
      const data = randomBytes(4096);
      await peer.send(data);
      const first = await peer.expectEcho(data);
      await peer.send(data);
      const second = await peer.expectEcho(data);
      assert.ok(first.wire.length > 4000);
      if (mode === 'dedicated') assert.ok(second.wire.length < 100, `second echo is ${second.wire.length} bytes`);
      else assert.ok(second.wire.length > 4000, `second echo is ${second.wire.length} bytes`);
    });

    test('12.3–12.5: fragmented compressed messages, fragments of 1 B upward, RSV1 on the first only', async (t) => {
      const peer = await open(t);
      const rand = prng(123);
      const plan: Array<[fragment: number, sizes: number[]]> = [
        [1, [16, 300, 4096]],
        [2, [64, 1024]],
        [3, [256, 4096]],
        [7, [16384]],
        [64, [1024, 65536]],
        [1000, [65536, 256 * 1024]],
        [16384, [256 * 1024]],
        [65536, [256 * 1024]],
      ];
      for (const [fragment, sizes] of plan) {
        for (const size of sizes) {
          const type = size % 3 === 0 ? 'binary' : 'text';
          const data = type === 'text' ? Buffer.from(textOfSize(size, rand)) : binaryOfSize(size, rand);
          await peer.send(data, { type, fragment });
          const echo = await peer.expectEcho(data, type);
          assert.equal(echo.compressed, size >= THRESHOLD, `fragment ${fragment}, ${size} B`);
        }
      }
    });

    test('chopped TCP delivery of whole and fragmented compressed messages', async (t) => {
      const peer = await open(t);
      const rand = prng(99);
      for (const [chopSize, fragment, size] of [
        [1, 0, 700],
        [1, 5, 600],
        [2, 0, 2000],
        [3, 17, 4096],
        [13, 0, 16384],
        [101, 40, 65536],
        [1500, 0, 256 * 1024],
      ] as const) {
        const data = Buffer.from(textOfSize(size, rand));
        await peer.send(data, { chop: chopSize, ...(fragment ? { fragment } : {}) });
        await peer.expectEcho(data);
      }
    });

    test('a ping between compressed fragments is answered and the message survives', async (t) => {
      const peer = await open(t);
      const data = Buffer.from(textOfSize(5000, prng(5)));
      const payload = await peer.compress(data);
      const half = payload.length >> 1;
      await peer.raw.sendRaw(
        Buffer.concat([
          encodeFrame({ opcode: Op.Text, payload: payload.subarray(0, half), fin: false, rsv: 4 }),
          encodeFrame({ opcode: Op.Ping, payload: 'mid' }),
          encodeFrame({ opcode: Op.Continuation, payload: payload.subarray(half) }),
        ]),
      );
      await peer.expectEcho(data, 'text');
      assert.deepEqual(
        peer.controls.map((f) => [f.opcode, f.payload.toString()]),
        [[Op.Pong, 'mid']],
      );
    });

    test('uncompressed messages interleaved with compressed ones leave both windows in step', async (t) => {
      const peer = await open(t);
      const rand = prng(31);
      for (let i = 0; i < 60; i++) {
        const data = Buffer.from(textOfSize(THRESHOLD + (i % 7) * 300, rand));
        await peer.send(data, { compress: i % 3 !== 1 });
        const echo = await peer.expectEcho(data);
        assert.equal(echo.compressed, true, 'the server compresses whatever it sends above the threshold');
      }
    });

    test('empty compressed messages: the 00 block, an empty payload, and empty fragments (§7.2.3.6)', async (t) => {
      const peer = await open(t);
      await peer.send(Buffer.alloc(0), { type: 'text' });
      await peer.expectEcho('');
      await peer.sendPayload(Buffer.alloc(0), { type: 'binary', rsv1: true });
      await peer.expectEcho(Buffer.alloc(0));
      const data = Buffer.from(textOfSize(900, prng(1)));
      const payload = await peer.compress(data);
      await peer.raw.sendRaw(
        Buffer.concat([
          encodeFrame({ opcode: Op.Text, payload: Buffer.alloc(0), fin: false, rsv: 4 }),
          encodeFrame({ opcode: Op.Continuation, payload, fin: false }),
          encodeFrame({ opcode: Op.Continuation, payload: Buffer.alloc(0) }),
        ]),
      );
      await peer.expectEcho(data, 'text');
      // The context survives all of it.
      await peer.send(data);
      await peer.expectEcho(data);
    });
  });
}

describe('RFC 7692 §7.2.3 example payloads, byte for byte, against the demo /echo', () => {
  const demo = useDemo({ maxMessageSize: 1024 * 1024, compression: 'dedicated', shutdownTimeout: 1000 });

  const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');
  for (const [section, fragments] of [
    ['7.2.3.1 one frame', ['f2 48 cd c9 c9 07 00']],
    ['7.2.3.1 two fragments', ['f2 48 cd', 'c9 c9 07 00']],
    ['7.2.3.3 a stored (uncompressed) block', ['00 05 00 fa ff 48 65 6c 6c 6f 00']],
    ['7.2.3.4 a block with BFINAL set', ['f3 48 cd c9 c9 07 00']],
  ] as const) {
    test(`§${section} → "Hello"`, async (t) => {
      const peer = await DeflatePeer.open(demo.port);
      t.after(() => peer.close());
      const frames = fragments.map((f, i) =>
        encodeFrame({
          opcode: i === 0 ? Op.Text : Op.Continuation,
          payload: hex(f),
          fin: i === fragments.length - 1,
          rsv: i === 0 ? 4 : 0,
        }),
      );
      await peer.raw.sendRaw(Buffer.concat(frames));
      await peer.expectEcho('Hello');
    });
  }

  test('§7.2.3.2 sharing the LZ77 window: the second "Hello" is f2 00 11 00 00', async (t) => {
    const peer = await DeflatePeer.open(demo.port);
    t.after(() => peer.close());
    await peer.sendPayload(hex('f2 48 cd c9 c9 07 00'), { type: 'text', rsv1: true });
    await peer.expectEcho('Hello');
    await peer.sendPayload(hex('f2 00 11 00 00'), { type: 'text', rsv1: true });
    await peer.expectEcho('Hello');
  });

  test('§7.2.3.5 two DEFLATE blocks in one message (a sync flush inside it)', async (t) => {
    const peer = await DeflatePeer.open(demo.port);
    t.after(() => peer.close());
    const first = await peer.compress(Buffer.from('He'));
    const second = await peer.compress(Buffer.from('llo'));
    // The first block keeps its 00 00 ff ff: only the message's final tail is removed (§7.2.1).
    await peer.sendPayload(Buffer.concat([first, hex('00 00 ff ff'), second]), { type: 'text', rsv1: true });
    await peer.expectEcho('Hello');
  });
});

describe('per-message compression control on a server connection', () => {
  let wss: WebSocketServer;
  let port: number;
  const big = 'abcdefgh'.repeat(512);
  before(async () => {
    wss = new WebSocketServer({ compression: 'dedicated', heartbeat: false });
    wss.on('connection', (conn: Connection) => {
      conn.on('message', (msg) => {
        const cmd = msg.type === 'text' ? msg.data : '';
        if (cmd === 'small') conn.send('x'.repeat(THRESHOLD - 1));
        else if (cmd === 'threshold') conn.send('y'.repeat(THRESHOLD));
        else if (cmd === 'off') conn.send(big, { compress: false });
        else if (cmd === 'off-binary') conn.send(Buffer.from(big), { compress: false });
        else if (cmd === 'force') conn.send('tiny', { compress: true });
        else if (cmd === 'big') conn.send(big);
      });
    });
    port = (await wss.listen(0)).port;
  });
  after(() => wss.close());

  test('below the threshold RSV1 is clear; { compress: false } is clear; { compress: true } compresses', async (t) => {
    const peer = await DeflatePeer.open(port, { path: '/' });
    t.after(() => peer.close());
    const expect = async (cmd: string, data: string | Buffer, compressed: boolean): Promise<void> => {
      await peer.send(cmd, { compress: false });
      const msg = await peer.expectEcho(data);
      assert.equal(msg.compressed, compressed, `${cmd}: RSV1 ${msg.compressed}`);
    };
    await expect('big', big, true);
    await expect('small', 'x'.repeat(THRESHOLD - 1), false);
    await expect('threshold', 'y'.repeat(THRESHOLD), true);
    await expect('off', big, false);
    await expect('off-binary', Buffer.from(big), false);
    await expect('force', 'tiny', true);
    // The window skipped the uncompressed ones: the next compressed message still inflates with our stream.
    await expect('big', big, true);
    const last = await (async () => {
      await peer.send('big', { compress: false });
      return peer.expectEcho(big);
    })();
    assert.ok(last.wire.length < 40, `context takeover makes a repeat tiny, got ${last.wire.length} bytes`);
  });
});
