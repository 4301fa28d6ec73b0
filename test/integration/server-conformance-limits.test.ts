// Server conformance over real sockets, Autobahn TestSuite sections 9 and 10: large messages, many fragments, bulk
// chopping and many small messages (limits/performance), message size limits (1009, RFC 6455 §7.4.1), and
// auto-fragmentation (a message is received whole however it was framed, §5.4).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type CloseInfo, WebSocketServer } from '../../src/index.js';
import { useDemo } from '../helpers/demo.js';
import {
  closeNormally as closeNormallyWithin,
  encodeFrame,
  Op,
  openPeer,
  type RawPeer,
  within,
} from '../helpers/raw-peer.js';

const BIG_WAIT = 30_000;
const demo = useDemo();

const open = (t: TestContext, port = demo.port): Promise<RawPeer> => openPeer(t, port);
const closeNormally = (peer: RawPeer): Promise<void> => closeNormallyWithin(peer, BIG_WAIT);

/** Text payload of `size` bytes, ASCII with a multi-byte character now and then (so UTF-8 checks do real work). */
function textOf(size: number): Buffer {
  const unit = Buffer.from('BAsd7&jh23 Hello-µ@ßöäüàá ');
  const out = Buffer.alloc(size, 0x2a);
  for (let at = 0; at + unit.length <= size; at += unit.length) unit.copy(out, at);
  return out;
}

/** One message as frames of `fragment` bytes (the last may be shorter). */
function fragmented(opcode: number, payload: Buffer, fragment: number): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < payload.length || at === 0; at += fragment) {
    const end = Math.min(at + fragment, payload.length);
    frames.push(
      encodeFrame({
        opcode: at === 0 ? opcode : Op.Continuation,
        payload: payload.subarray(at, end),
        fin: end === payload.length,
      }),
    );
    if (payload.length === 0) break;
  }
  return Buffer.concat(frames);
}

async function expectEchoOf(peer: RawPeer, payload: Buffer, type: 'text' | 'binary'): Promise<void> {
  const msg = await peer.nextMessage(BIG_WAIT);
  assert.equal(msg.type, type);
  assert.equal(msg.data.length, payload.length);
  assert.ok(msg.data.equals(payload), 'echoed bytes differ');
}

const MiB = 1 << 20;

describe('9.1/9.2 large messages in one frame', () => {
  for (const size of [64 << 10, 256 << 10, MiB, 4 * MiB, 8 * MiB, 16 * MiB]) {
    it(`text and binary of ${size} bytes are echoed intact`, async (t) => {
      const peer = await open(t);
      const text = textOf(size);
      await peer.send({ opcode: Op.Text, payload: text });
      await expectEchoOf(peer, text, 'text');
      const bin = randomBytes(size);
      await peer.send({ opcode: Op.Binary, payload: bin });
      await expectEchoOf(peer, bin, 'binary');
      await closeNormally(peer);
    });
  }
});

describe('9.3/9.4 a 4 MiB message in fragments of 64 B … 4 MiB', () => {
  const text = textOf(4 * MiB);
  const bin = randomBytes(4 * MiB);
  for (const fragment of [64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, MiB, 4 * MiB]) {
    it(`fragments of ${fragment} bytes`, async (t) => {
      const peer = await open(t);
      await peer.sendRaw(fragmented(Op.Text, text, fragment));
      await expectEchoOf(peer, text, 'text');
      await peer.sendRaw(fragmented(Op.Binary, bin, fragment));
      await expectEchoOf(peer, bin, 'binary');
      await closeNormally(peer);
    });
  }

  it('16 MiB in 1 MiB fragments and 1 MiB in 64-byte fragments', async (t) => {
    const peer = await open(t);
    const big = randomBytes(16 * MiB);
    await peer.sendRaw(fragmented(Op.Binary, big, MiB));
    await expectEchoOf(peer, big, 'binary');
    const small = textOf(MiB);
    await peer.sendRaw(fragmented(Op.Text, small, 64));
    await expectEchoOf(peer, small, 'text');
    await closeNormally(peer);
  });
});

describe('9.5/9.6 a 1 MiB frame sent in chops of 64 B … 128 KiB', () => {
  it('every chop size, text and binary', async (t) => {
    const peer = await open(t);
    const text = textOf(MiB);
    const bin = randomBytes(MiB);
    for (const chop of [64, 128, 256, 512, 1024, 2048, 128 << 10]) {
      await peer.sendChopped(encodeFrame({ opcode: Op.Text, payload: text }), chop, false);
      await expectEchoOf(peer, text, 'text');
      await peer.sendChopped(encodeFrame({ opcode: Op.Binary, payload: bin }), chop, false);
      await expectEchoOf(peer, bin, 'binary');
    }
    await closeNormally(peer);
  });
});

describe('9.7/9.8 many small messages', () => {
  for (const size of [0, 16, 64, 256, 1024, 4096]) {
    it(`1000 text and 1000 binary messages of ${size} bytes, one at a time, echoed in order`, async (t) => {
      const peer = await open(t);
      const text = textOf(size);
      for (let i = 0; i < 1000; i++) {
        await peer.send({ opcode: Op.Text, payload: text });
        await expectEchoOf(peer, text, 'text');
      }
      const bin = randomBytes(size);
      for (let i = 0; i < 1000; i++) {
        await peer.send({ opcode: Op.Binary, payload: bin });
        await expectEchoOf(peer, bin, 'binary');
      }
      await closeNormally(peer);
    });
  }

  it('1000 distinct messages pipelined in one write are echoed in order', async (t) => {
    const peer = await open(t);
    const msgs = Array.from({ length: 1000 }, (_, i) => `#${i} ${'x'.repeat(i % 97)}`);
    await peer.sendRaw(Buffer.concat(msgs.map((m) => encodeFrame({ opcode: Op.Text, payload: m }))));
    for (const m of msgs) await peer.expectEcho(m);
    await closeNormally(peer);
  });
});

describe('maxMessageSize → 1009', () => {
  const LIMIT = 1024;
  let wss: WebSocketServer;
  let port: number;
  const closed: Promise<CloseInfo>[] = [];
  before(async () => {
    wss = new WebSocketServer({ maxMessageSize: LIMIT, maxFragments: 16, heartbeat: false });
    wss.on('connection', (conn) => {
      closed.push(conn.closed);
      conn.on('message', (msg) => conn.send(msg.data));
    });
    port = ((await wss.listen(0, '127.0.0.1')) as AddressInfo).port;
  });
  after(() => wss.close());

  it('a message of exactly the limit is echoed; one byte more → 1009', async (t) => {
    const peer = await open(t, port);
    const ok = randomBytes(LIMIT);
    await peer.sendBinary(ok);
    await peer.expectEcho(ok, 'binary');
    await peer.sendText('x'.repeat(LIMIT + 1));
    await peer.expectClose(1009);
    const info = await within(closed.at(-1)!, 5_000, 'the server-side close');
    assert.equal(info.code, 1009);
  });

  it('fragments that add up past the limit → 1009 as soon as the header says so', async (t) => {
    const peer = await open(t, port);
    await peer.send({ opcode: Op.Binary, payload: Buffer.alloc(600), fin: false });
    // Only the header of the second fragment: the declared length already breaks the limit.
    const second = encodeFrame({ opcode: Op.Continuation, payload: Buffer.alloc(600), fin: true });
    await peer.sendRaw(second.subarray(0, 8));
    await peer.expectClose(1009);
  });

  it('a huge declared length (2^53 − 1) → 1009 without waiting for the payload', async (t) => {
    const peer = await open(t, port);
    const header = Buffer.from([0x82, 0xff, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    await peer.sendRaw(header);
    await peer.expectClose(1009);
  });

  it('a 64-bit length with its most significant bit set → 1002', async (t) => {
    const peer = await open(t, port);
    await peer.sendRaw(Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]));
    await peer.expectClose(1002);
  });

  it('more fragments than maxFragments → 1009', async (t) => {
    const peer = await open(t, port);
    await peer.sendRaw(fragmented(Op.Binary, Buffer.alloc(17), 1));
    await peer.expectClose(1009);
  });
});

describe('10.x auto-fragmentation', () => {
  it('10.1.1: 64 KiB text sent as 1300-byte fragments is echoed whole', async (t) => {
    const peer = await open(t);
    const text = textOf(64 << 10);
    await peer.sendRaw(fragmented(Op.Text, text, 1300));
    await expectEchoOf(peer, text, 'text');
    await closeNormally(peer);
  });

  it('the same message framed many ways is received identically', async (t) => {
    const peer = await open(t);
    const payload = randomBytes(300_000);
    for (const fragment of [1, 125, 126, 65535, 65536, 131_071, 300_000]) {
      const bytes =
        fragment === 1 ? fragmented(Op.Binary, payload.subarray(0, 4096), 1) : fragmented(Op.Binary, payload, fragment);
      await peer.sendRaw(bytes);
      await expectEchoOf(peer, fragment === 1 ? payload.subarray(0, 4096) : payload, 'binary');
    }
    await closeNormally(peer);
  });
});
