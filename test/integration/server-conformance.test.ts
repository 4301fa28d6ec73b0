// Server conformance over real sockets, Autobahn TestSuite sections 1–4: framing (RFC 6455 §5.2), pings and pongs
// (§5.5.2–§5.5.3), reserved bits (§5.2) and reserved opcodes (§5.2, §10.7), against the demo's ws /echo.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { useDemo } from '../helpers/demo.js';
import { closeNormally, encodeFrame, Op, openPeer, type RawPeer, waitUntil } from '../helpers/raw-peer.js';

const demo = useDemo();

const open = (t: TestContext): Promise<RawPeer> => openPeer(t, demo.port);

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

describe('1.x framing', () => {
  it('1.1/1.2: text and binary of every length class are echoed exactly', async (t) => {
    const peer = await open(t);
    for (const len of LENGTHS) {
      const text = '*'.repeat(len);
      await peer.sendText(text);
      await peer.expectEcho(text);
      const bin = randomBytes(len);
      await peer.sendBinary(bin);
      await peer.expectEcho(bin, 'binary');
    }
    await closeNormally(peer);
  });

  it('1.1.8/1.2.8: every length class sent in chops (997 bytes, then byte by byte for the header)', async (t) => {
    const peer = await open(t);
    for (const len of LENGTHS) {
      const text = 'a'.repeat(len);
      // Byte-wise across the header and the start of the payload, then in 997-byte pieces.
      const frame = encodeFrame({ opcode: Op.Text, payload: text });
      const split = Math.min(frame.length, 16);
      await peer.sendChopped(frame.subarray(0, split), 1);
      await peer.sendChopped(frame.subarray(split), 997);
      await peer.expectEcho(text);
      const bin = randomBytes(len);
      await peer.sendChopped(encodeFrame({ opcode: Op.Binary, payload: bin }), 997);
      await peer.expectEcho(bin, 'binary');
    }
    await closeNormally(peer);
  });

  it('many frames in one TCP write are each echoed, in order', async (t) => {
    const peer = await open(t);
    const msgs = Array.from({ length: 50 }, (_, i) => `message ${i}`);
    await peer.sendRaw(Buffer.concat(msgs.map((m) => encodeFrame({ opcode: Op.Text, payload: m }))));
    for (const m of msgs) await peer.expectEcho(m);
    await closeNormally(peer);
  });

  it('an unmasked client frame fails the connection with 1002 (§5.1)', async (t) => {
    const peer = await open(t);
    await peer.send({ opcode: Op.Text, payload: 'not masked', mask: false });
    await peer.expectClose(1002);
  });
});

describe('2.x ping/pong', () => {
  it('2.1–2.4: a ping is answered by a pong with the same payload (empty, text, binary, 125 bytes)', async (t) => {
    const peer = await open(t);
    const payloads = [
      Buffer.alloc(0),
      Buffer.from('Hello, world!'),
      Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]),
    ];
    payloads.push(Buffer.alloc(125, 0xfe));
    for (const p of payloads) {
      await peer.send({ opcode: Op.Ping, payload: p });
      await peer.expectPong(p);
    }
    await closeNormally(peer);
  });

  it('2.5: a 126-byte ping fails the connection with 1002 and is not answered', async (t) => {
    const peer = await open(t);
    await peer.send({ opcode: Op.Ping, payload: Buffer.alloc(126, 0xfe) });
    await peer.expectClose(1002);
  });

  it('2.6: a 125-byte ping sent byte by byte is answered', async (t) => {
    const peer = await open(t);
    const p = randomBytes(125);
    await peer.sendChopped(encodeFrame({ opcode: Op.Ping, payload: p }), 1);
    await peer.expectPong(p);
    await closeNormally(peer);
  });

  it('2.7–2.9: unsolicited pongs are ignored; only the ping is answered', async (t) => {
    const peer = await open(t);
    await peer.send({ opcode: Op.Pong });
    await peer.send({ opcode: Op.Pong, payload: 'unsolicited pong payload' });
    await peer.send({ opcode: Op.Ping, payload: 'ping payload' });
    await peer.expectPong('ping payload');
    await closeNormally(peer);
  });

  it('2.10/2.11: 10 pings in a row (in one write, and chopped) give 10 pongs in order', async (t) => {
    const peer = await open(t);
    const pings = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));
    const bytes = Buffer.concat(pings.map((p) => encodeFrame({ opcode: Op.Ping, payload: p })));
    await peer.sendRaw(bytes);
    for (const p of pings) await peer.expectPong(p);
    await peer.sendChopped(bytes, 1);
    for (const p of pings) await peer.expectPong(p);
    await closeNormally(peer);
  });
});

describe('3.x reserved bits', () => {
  // Autobahn 3.1–3.7: RSV = 1…7 on text, binary, ping and close frames; a message before the bad frame is still
  // echoed, and the ping after it is never answered (the next frame must be the close).
  const cases: Array<{ name: string; rsv: number; opcode: number; chopped: boolean }> = [
    { name: '3.1 RSV1 on text', rsv: 4, opcode: Op.Text, chopped: false },
    { name: '3.2 RSV2 on text', rsv: 2, opcode: Op.Text, chopped: false },
    { name: '3.3 RSV3 on text, frame-wise chops', rsv: 1, opcode: Op.Text, chopped: true },
    { name: '3.4 RSV1+RSV3 on text, byte-wise chops', rsv: 5, opcode: Op.Text, chopped: true },
    { name: '3.5 RSV1+RSV3 on binary', rsv: 5, opcode: Op.Binary, chopped: false },
    { name: '3.6 RSV1+RSV2 on ping', rsv: 6, opcode: Op.Ping, chopped: false },
    { name: '3.7 RSV1+RSV2+RSV3 on close', rsv: 7, opcode: Op.Close, chopped: false },
    { name: 'RSV2+RSV3 on continuation', rsv: 3, opcode: Op.Continuation, chopped: false },
    { name: 'RSV1 on pong', rsv: 4, opcode: Op.Pong, chopped: true },
  ];
  for (const c of cases) {
    it(`${c.name} → 1002, after echoing the message before it`, async (t) => {
      const peer = await open(t);
      const payload = c.opcode === Op.Close ? Buffer.from([0x03, 0xe8]) : Buffer.from('Hello, world!');
      const bytes = Buffer.concat([
        encodeFrame({ opcode: Op.Text, payload: 'before' }),
        encodeFrame({ opcode: c.opcode, payload, rsv: c.rsv }),
        encodeFrame({ opcode: Op.Ping, payload: 'after' }),
      ]);
      if (c.chopped) await peer.sendChopped(bytes, 1);
      else await peer.sendRaw(bytes);
      await peer.expectEcho('before');
      await peer.expectClose(1002);
    });
  }
});

describe('4.x reserved opcodes', () => {
  const reserved = [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf];
  it('4.1/4.2: every reserved opcode, empty or with payload, → 1002 after echoing the message before it', async (t) => {
    for (const opcode of reserved) {
      for (const payload of [Buffer.alloc(0), Buffer.from('reserved')]) {
        const peer = await open(t);
        await peer.sendRaw(
          Buffer.concat([
            encodeFrame({ opcode: Op.Text, payload: 'before' }),
            encodeFrame({ opcode, payload }),
            encodeFrame({ opcode: Op.Ping, payload: 'after' }),
          ]),
        );
        await peer.expectEcho('before');
        await assert.doesNotReject(peer.expectClose(1002), `opcode 0x${opcode.toString(16)}`);
      }
    }
    await waitUntil(() => demo.connections() === 0, 'the server dropped every failed connection');
  });

  it('4.1.5/4.2.5: a reserved opcode sent byte by byte → 1002', async (t) => {
    const peer = await open(t);
    await peer.sendChopped(encodeFrame({ opcode: 0x7, payload: 'reserved' }), 1);
    await peer.expectClose(1002);
  });
});
