// Server conformance over real sockets, Autobahn TestSuite sections 5 and 6: fragmentation (RFC 6455 §5.4) and UTF-8
// handling of text messages (§8.1), including fail-fast on invalid UTF-8 before a message is complete.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { useDemo } from '../helpers/demo.js';
import { closeNormally, encodeFrame, type FrameSpec, Op, openPeer, type RawPeer } from '../helpers/raw-peer.js';

const demo = useDemo();

const open = (t: TestContext): Promise<RawPeer> => openPeer(t, demo.port);

type Delivery = 'one write' | 'frame-wise' | 'byte-wise';
const DELIVERIES: Delivery[] = ['one write', 'frame-wise', 'byte-wise'];

/** Sends frames the way Autobahn does: all in one chop, one chop per frame, or one byte at a time. */
async function deliver(peer: RawPeer, frames: FrameSpec[], how: Delivery): Promise<void> {
  const encoded = frames.map(encodeFrame);
  if (how === 'one write') await peer.sendRaw(Buffer.concat(encoded));
  else if (how === 'frame-wise') for (const f of encoded) await peer.sendChopped(f, f.length || 1);
  else await peer.sendChopped(Buffer.concat(encoded), 1);
}

describe('5.x fragmentation', () => {
  for (const how of DELIVERIES) {
    it(`5.3–5.5: text and binary in fragments are echoed as one message (${how})`, async (t) => {
      const peer = await open(t);
      await deliver(
        peer,
        [
          { opcode: Op.Text, payload: 'frag', fin: false },
          { opcode: Op.Continuation, payload: 'ment', fin: false },
          { opcode: Op.Continuation, payload: '', fin: false },
          { opcode: Op.Continuation, payload: 'ed', fin: true },
          { opcode: Op.Binary, payload: Buffer.from([1, 2]), fin: false },
          { opcode: Op.Continuation, payload: Buffer.from([3]), fin: true },
        ],
        how,
      );
      await peer.expectEcho('fragmented');
      await peer.expectEcho(Buffer.from([1, 2, 3]), 'binary');
      await closeNormally(peer);
    });

    it(`5.6–5.8: a ping between fragments is answered before the message is echoed (${how})`, async (t) => {
      const peer = await open(t);
      await deliver(
        peer,
        [
          { opcode: Op.Text, payload: 'fragment1', fin: false },
          { opcode: Op.Ping, payload: 'ping payload' },
          { opcode: Op.Continuation, payload: 'fragment2', fin: true },
        ],
        how,
      );
      await peer.expectPong('ping payload');
      await peer.expectEcho('fragment1fragment2');
      await closeNormally(peer);
    });

    it(`5.9–5.14: a continuation with nothing to continue → 1002, and what follows is not echoed (${how})`, async (t) => {
      for (const fin of [true, false]) {
        const peer = await open(t);
        await deliver(
          peer,
          [
            { opcode: Op.Continuation, payload: 'fragment1', fin },
            { opcode: Op.Text, payload: 'fragment2', fin: false },
            { opcode: Op.Continuation, payload: 'fragment3', fin: true },
          ],
          how,
        );
        await peer.expectClose(1002);
      }
    });

    it(`5.1/5.2: fragmented ping and pong → 1002 (${how})`, async (t) => {
      for (const opcode of [Op.Ping, Op.Pong]) {
        const peer = await open(t);
        await deliver(
          peer,
          [
            { opcode, payload: 'fragment1', fin: false },
            { opcode: Op.Continuation, payload: 'fragment2', fin: true },
          ],
          how,
        );
        await peer.expectClose(1002);
      }
    });

    it(`5.15–5.17: a finished message, then a stray continuation → echo, then 1002 (${how})`, async (t) => {
      for (const strayFin of [false, true]) {
        const peer = await open(t);
        await deliver(
          peer,
          [
            { opcode: Op.Text, payload: 'fragment1', fin: false },
            { opcode: Op.Continuation, payload: 'fragment2', fin: true },
            { opcode: Op.Continuation, payload: 'fragment3', fin: strayFin },
            { opcode: Op.Text, payload: 'fragment4', fin: true },
          ],
          how,
        );
        await peer.expectEcho('fragment1fragment2');
        await peer.expectClose(1002);
      }
    });

    it(`5.18: a text frame inside a fragmented message → 1002 (${how})`, async (t) => {
      for (const second of [Op.Text, Op.Binary]) {
        const peer = await open(t);
        await deliver(
          peer,
          [
            { opcode: Op.Text, payload: 'fragment1', fin: false },
            { opcode: second, payload: 'fragment2', fin: true },
          ],
          how,
        );
        await peer.expectClose(1002);
      }
    });
  }

  it('5.19/5.20: pings inside a 5-fragment message are answered at once, before the message completes', async (t) => {
    const peer = await open(t);
    const parts = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'];
    for (let i = 0; i < parts.length; i++) {
      await peer.send({
        opcode: i === 0 ? Op.Text : Op.Continuation,
        payload: parts[i] ?? '',
        fin: i === parts.length - 1,
      });
      if (i === 1 || i === 3) {
        // The message is still open: the pong must come now, not after the final fragment.
        await peer.send({ opcode: Op.Ping, payload: `pongme ${i}` });
        await peer.expectPong(`pongme ${i}`);
      }
    }
    await peer.expectEcho(parts.join(''));
    await closeNormally(peer);
  });
});

// ---- 6.x UTF-8 ------------------------------------------------------------------------------------------------------

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

/** Valid UTF-8 (Autobahn 6.1, 6.2, 6.5–6.7, 6.9, 6.11, 6.22, 6.23): echoed exactly. */
const VALID: Array<[string, Buffer]> = [
  ['6.1 empty', Buffer.alloc(0)],
  ['6.2 Hello-µ@ßöäüàá-UTF-8!!', Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')],
  ['6.5.1 κόσμε', h('cebae1bdb9cf83cebcceb5')],
  ['6.7.1 first 1-byte', h('00')],
  ['6.7.2 first 2-byte', h('c280')],
  ['6.7.3 first 3-byte', h('e0a080')],
  ['6.7.4 first 4-byte', h('f0908080')],
  ['6.9.1 last 1-byte', h('7f')],
  ['6.9.2 last 2-byte', h('dfbf')],
  ['6.9.3 last 3-byte', h('efbfbf')],
  ['6.9.4 last 4-byte (U+10FFFF)', h('f48fbfbf')],
  ['6.11.1 U+D7FF', h('ed9fbf')],
  ['6.11.2 U+E000', h('ee8080')],
  ['6.11.3 U+FFFD', h('efbfbd')],
  ['6.22 noncharacters U+FFFE U+1FFFF U+10FFFE', h('efbfbe f09fbfbf f48fbfbe')],
  ['6.23 U+FEFF and U+FFFC', h('efbbbf efbfbc')],
  ['emoji and CJK', Buffer.from('日本語 😀 ok')],
];

/** Invalid UTF-8 (Autobahn 6.3, 6.8, 6.10, 6.11.5, 6.12–6.21): 1007. */
const INVALID: Array<[string, Buffer]> = [
  ['6.3 κόσμε + U+D800 (surrogate)', h('cebae1bdb9cf83cebcceb5 eda080 656469746564')],
  ['6.8.1 5-byte sequence', h('f888808080')],
  ['6.8.2 6-byte sequence', h('fc8480808080')],
  ['6.10.1 last invalid 4-byte', h('f7bfbfbf')],
  ['6.10.2 5-byte', h('fbbfbfbfbf')],
  ['6.10.3 6-byte', h('fdbfbfbfbfbf')],
  ['6.11.5 U+110000', h('f4908080')],
  ['6.12.1 lone continuation 0x80', h('80')],
  ['6.12.2 lone continuation 0xbf', h('bf')],
  ['6.12.8 continuation run', h('80bf80bf80bf80')],
  ['6.13.1 lonely 2-byte starts', h('c020c120c220')],
  ['6.13.2 lonely 3-byte starts', h('e020e120')],
  ['6.13.3 lonely 4-byte start', h('f020')],
  ['6.14.1 2-byte, last byte missing', h('c0')],
  ['6.14.2 3-byte, last byte missing', h('e080')],
  ['6.14.3 4-byte, last byte missing', h('f08080')],
  ['6.14.6 valid lead, truncated at the end', h('41 dfbf 41 efbf')],
  ['6.14.8 4-byte truncated at the end', h('f48fbf')],
  ['6.15.1 concatenated incomplete sequences', h('c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf')],
  ['6.16.1 0xfe', h('fe')],
  ['6.16.2 0xff', h('ff')],
  ['6.16.3 fe fe ff ff', h('fefeffff')],
  ['6.17.1 overlong /', h('c0af')],
  ['6.17.2 overlong / (3)', h('e080af')],
  ['6.17.3 overlong / (4)', h('f08080af')],
  ['6.18.1 max overlong 2', h('c1bf')],
  ['6.18.2 max overlong 3', h('e09fbf')],
  ['6.18.3 max overlong 4', h('f08fbfbf')],
  ['6.19.1 overlong NUL', h('c080')],
  ['6.19.2 overlong NUL (3)', h('e08080')],
  ['6.20.1 U+D800', h('eda080')],
  ['6.20.4 U+DBFF', h('edafbf')],
  ['6.20.5 U+DC00', h('edb080')],
  ['6.20.7 U+DFFF', h('edbfbf')],
  ['6.21.1 paired surrogates', h('eda080edb080')],
  ['6.21.8 paired surrogates', h('edafbfedbfbf')],
];

/** Text frames for `payload`: one frame, or one fragment per byte (splitting code points, Autobahn 6.2.4/6.6). */
function textFrames(payload: Buffer, fragmented: boolean): FrameSpec[] {
  if (!fragmented || payload.length <= 1) return [{ opcode: Op.Text, payload }];
  return [...payload].map((b, i) => ({
    opcode: i === 0 ? Op.Text : Op.Continuation,
    payload: Buffer.from([b]),
    fin: i === payload.length - 1,
  }));
}

describe('6.x UTF-8', () => {
  for (const [mode, fragmented, how] of [
    ['one frame', false, 'one write'],
    ['one frame, byte-wise chops', false, 'byte-wise'],
    ['one fragment per byte', true, 'frame-wise'],
  ] as const) {
    it(`valid UTF-8 texts are echoed exactly (${mode})`, async (t) => {
      const peer = await open(t);
      for (const [name, payload] of VALID) {
        await deliver(peer, textFrames(payload, fragmented), how);
        const msg = await peer.nextMessage();
        assert.equal(msg.type, 'text', name);
        assert.deepEqual(msg.data, payload, name);
      }
      await closeNormally(peer);
    });

    it(`invalid UTF-8 texts → 1007 (${mode})`, async (t) => {
      for (const [name, payload] of INVALID) {
        const peer = await open(t);
        await deliver(peer, textFrames(payload, fragmented), how);
        await assert.doesNotReject(peer.expectClose(1007), name);
      }
    });
  }

  it('invalid UTF-8 in a binary message is not checked (echoed)', async (t) => {
    const peer = await open(t);
    await peer.sendBinary(h('fffe c0af eda080'));
    await peer.expectEcho(h('fffe c0af eda080'), 'binary');
    await closeNormally(peer);
  });

  // 6.4.1/6.4.2: fragments; the first fragment already holds the invalid byte (6.4.2: the lone 0xf4 0x90 prefix).
  const failFastFragments: Array<[string, Buffer, Buffer]> = [
    ['6.4.1 κόσμε + f4 90 80 80 in fragment 1', h('cebae1bdb9cf83cebcceb5 f4908080'), h('656469746564')],
    ['6.4.2 κόσμε + f4 90 in fragment 1', h('cebae1bdb9cf83cebcceb5 f490'), h('8080 656469746564')],
    ['surrogate prefix ed a0 in fragment 1', h('41 eda0'), h('80 41')],
    ['0xff alone in fragment 1', h('41 ff'), h('41')],
  ];
  for (const [name, first, rest] of failFastFragments) {
    it(`${name}: 1007 arrives before the final fragment is sent`, async (t) => {
      const peer = await open(t);
      await peer.send({ opcode: Op.Text, payload: first, fin: false });
      // No more bytes go out until the close arrives: a server that waits for the message's end times out here.
      await peer.expectClose(1007);
      await peer.send({ opcode: Op.Continuation, payload: rest, fin: true });
    });
  }

  // 6.4.3/6.4.4: one frame; its first part (with the invalid byte) arrives, the rest is held back.
  const failFastChops: Array<[string, Buffer, number]> = [
    ['6.4.3 f4 90 80 80 mid-frame', h('cebae1bdb9cf83cebcceb5 f4908080 656469746564'), 15],
    ['6.4.4 f4 90 (just the invalid prefix) mid-frame', h('cebae1bdb9cf83cebcceb5 f4908080 656469746564'), 13],
    ['overlong c0 in the first part', h('41 c0 af 41 41 41'), 2],
  ];
  for (const [name, payload, cut] of failFastChops) {
    it(`${name}: 1007 arrives before the rest of the frame is sent`, async (t) => {
      const peer = await open(t);
      const frame = encodeFrame({ opcode: Op.Text, payload });
      const header = frame.length - payload.length;
      await peer.sendRaw(frame.subarray(0, header + cut));
      await peer.expectClose(1007);
      await peer.sendRaw(frame.subarray(header + cut));
    });
  }

  it('6.1.2/6.1.3: empty fragments make an empty text, or surround a non-empty middle', async (t) => {
    const peer = await open(t);
    await deliver(
      peer,
      [
        { opcode: Op.Text, payload: '', fin: false },
        { opcode: Op.Continuation, payload: '', fin: false },
        { opcode: Op.Continuation, payload: '', fin: true },
        { opcode: Op.Text, payload: '', fin: false },
        { opcode: Op.Continuation, payload: 'middle frame payload', fin: false },
        { opcode: Op.Continuation, payload: '', fin: true },
      ],
      'one write',
    );
    await peer.expectEcho('');
    await peer.expectEcho('middle frame payload');
    await closeNormally(peer);
  });

  it('a code point split across fragments and across TCP chops is valid (6.2.3/6.2.4)', async (t) => {
    const peer = await open(t);
    const text = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!');
    // Fragment boundaries in the middle of 'µ' and 'ß', each fragment delivered byte by byte.
    const cuts = [7, 9, text.length];
    const frames: FrameSpec[] = [];
    let at = 0;
    for (const [i, end] of cuts.entries()) {
      frames.push({
        opcode: i === 0 ? Op.Text : Op.Continuation,
        payload: text.subarray(at, end),
        fin: i === cuts.length - 1,
      });
      at = end;
    }
    await deliver(peer, frames, 'byte-wise');
    await peer.expectEcho(text.toString());
    await closeNormally(peer);
  });
});
