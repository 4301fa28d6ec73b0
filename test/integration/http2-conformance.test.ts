// Autobahn-style framing cases (sections 1–7 and 9 of the TestSuite: RFC 6455 §5, §7, §8.1) replayed over an HTTP/2
// extended CONNECT stream (RFC 8441): the frame layer must not care what carries it. One session carries every case;
// a failed case ends its own stream, and the next case opens a new one beside it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, describe, it, type TestContext } from 'node:test';
import { WebSocketServer } from '../../src/server.js';
import { openH2Peer, openSession, type Scope, startH2Server } from '../helpers/h2.js';
import { closeNormally, closePayload, encodeFrame, type FrameSpec, Op, type RawPeer } from '../helpers/raw-peer.js';

/** What the demo's /echo runs with in the HTTP/1.1 conformance suites: no compression, messages up to 64 MiB. */
const ECHO = { maxMessageSize: 64 << 20, compression: false, heartbeat: false } as const;

let shared: { session: ClientHttp2Session; sessions: () => number } | null = null;

describe('Autobahn framing cases over an HTTP/2 stream', () => {
  // One server and one session for the whole file, cleaned up after its last case.
  const cleanups: Array<() => unknown> = [];
  const suite: Scope = { after: (fn) => cleanups.push(fn) };
  before(async () => {
    const wss = new WebSocketServer(ECHO);
    wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
    const h2 = await startH2Server(suite, (server) => wss.attach(server, { path: '/echo' }));
    suite.after(() => wss.close());
    shared = { session: await openSession(suite, h2.origin), sessions: () => h2.sessions.length };
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  const open = (t: TestContext): Promise<RawPeer> => {
    if (!shared) throw new Error('the suite’s session is not open yet');
    return openH2Peer(t, shared.session);
  };

  /** Cases that end with the server failing the connection with `code` and ending the stream. */
  const failures: Array<[string, FrameSpec[], number]> = [
    ['1.x an unmasked client frame', [{ opcode: Op.Text, payload: 'x', mask: false }], 1002],
    ['2.5 a 126-byte ping', [{ opcode: Op.Ping, payload: Buffer.alloc(126) }], 1002],
    ...[1, 2, 3, 4, 5, 6, 7].map((rsv): [string, FrameSpec[], number] => [
      `3.x RSV=${rsv} on a text frame`,
      [{ opcode: Op.Text, payload: 'x', rsv }],
      1002,
    ]),
    ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode): [string, FrameSpec[], number] => [
      `4.x reserved opcode 0x${opcode.toString(16)}`,
      [{ opcode }],
      1002,
    ]),
    ['5.1 a fragmented ping', [{ opcode: Op.Ping, payload: 'a', fin: false }], 1002],
    ['5.9 a continuation with nothing to continue', [{ opcode: Op.Continuation, payload: 'x' }], 1002],
    [
      '5.18 a new text frame inside a fragmented message',
      [
        { opcode: Op.Text, payload: 'a', fin: false },
        { opcode: Op.Text, payload: 'b' },
      ],
      1002,
    ],
    [
      '6.3 invalid UTF-8 in a text message',
      [{ opcode: Op.Text, payload: Buffer.from([0xce, 0xba, 0xe1, 0xbd]) }],
      1007,
    ],
    [
      '6.4 invalid UTF-8 in the first fragment fails before the message ends',
      [{ opcode: Op.Text, payload: Buffer.from([0xf4, 0x90, 0x80, 0x80]), fin: false }],
      1007,
    ],
    ['7.3.2 a close payload of one byte', [{ opcode: Op.Close, payload: Buffer.from([0x03]) }], 1002],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000].map((code): [string, FrameSpec[], number] => [
      `7.9 close code ${code}`,
      [{ opcode: Op.Close, payload: closePayload(code) }],
      1002,
    ]),
    [
      '7.5.1 a close reason that is not UTF-8',
      [{ opcode: Op.Close, payload: closePayload(1000, Buffer.from([0xce, 0xba, 0xe1, 0xbd])) }],
      1007,
    ],
  ];
  for (const [what, frames, code] of failures) {
    it(`${what} → ${code}, then END_STREAM`, async (t) => {
      const peer = await open(t);
      await peer.sendRaw(Buffer.concat(frames.map(encodeFrame)));
      await peer.expectClose(code);
    });
  }

  it('1.1/1.2: text and binary of every length class, in one write and in 997-byte chops', async (t) => {
    const peer = await open(t);
    for (const len of [0, 125, 126, 127, 128, 65535, 65536]) {
      const text = 'a'.repeat(len);
      await peer.sendText(text);
      await peer.expectEcho(text);
      const bin = randomBytes(len);
      await peer.sendChopped(encodeFrame({ opcode: Op.Binary, payload: bin }), 997);
      await peer.expectEcho(bin, 'binary');
    }
    // The header a byte at a time.
    const frame = encodeFrame({ opcode: Op.Text, payload: 'byte-wise header' });
    await peer.sendChopped(frame, 1);
    await peer.expectEcho('byte-wise header');
    await closeNormally(peer);
  });

  it('2.x: pings of 0 to 125 bytes are answered with the same payload; an unsolicited pong is ignored', async (t) => {
    const peer = await open(t);
    await peer.send({ opcode: Op.Pong, payload: 'unsolicited' });
    for (const payload of [Buffer.alloc(0), Buffer.from('Hello, world!'), Buffer.alloc(125, 0xfe)]) {
      await peer.send({ opcode: Op.Ping, payload });
      await peer.expectPong(payload);
    }
    await closeNormally(peer);
  });

  it('5.x: fragments (empty ones too) make one message; a ping between them is answered first', async (t) => {
    const peer = await open(t);
    const frames: FrameSpec[] = [
      { opcode: Op.Text, payload: 'frag', fin: false },
      { opcode: Op.Ping, payload: 'in between' },
      { opcode: Op.Continuation, payload: '', fin: false },
      { opcode: Op.Continuation, payload: 'ment', fin: true },
    ];
    await peer.sendChopped(Buffer.concat(frames.map(encodeFrame)), 1);
    await peer.expectPong('in between');
    await peer.expectEcho('fragment');
    await closeNormally(peer);
  });

  it('6.x: valid UTF-8 split inside a code point across fragments is echoed whole', async (t) => {
    const peer = await open(t);
    const text = Buffer.from('κόσμε 𝄞 ünïcödé');
    for (let cut = 1; cut < text.length; cut += 3) {
      await peer.sendRaw(
        Buffer.concat([
          encodeFrame({ opcode: Op.Text, payload: text.subarray(0, cut), fin: false }),
          encodeFrame({ opcode: Op.Continuation, payload: text.subarray(cut) }),
        ]),
      );
      await peer.expectEcho(text.toString());
    }
    await closeNormally(peer);
  });

  it('7.1: close 1000 with a reason is echoed; frames after the close are not answered', async (t) => {
    const peer = await open(t);
    await peer.sendRaw(
      Buffer.concat([
        encodeFrame({ opcode: Op.Close, payload: closePayload(1000, 'done here') }),
        encodeFrame({ opcode: Op.Ping, payload: 'too late' }),
        encodeFrame({ opcode: Op.Text, payload: 'too late' }),
      ]),
    );
    await peer.expectClose(1000);
  });

  it('7.3.1: an empty close is answered with an empty close', async (t) => {
    const peer = await open(t);
    await peer.sendClose();
    await peer.expectClose(null);
  });

  it('9.x: a 4 MiB message in 64 KiB fragments, a 16 MiB one in one frame, and 1,000 small ones in order', async (t) => {
    const peer = await open(t);
    const four = randomBytes(4 << 20);
    const pieces: FrameSpec[] = [];
    for (let i = 0; i < four.length; i += 65536) {
      pieces.push({
        opcode: i === 0 ? Op.Binary : Op.Continuation,
        payload: four.subarray(i, i + 65536),
        fin: i + 65536 >= four.length,
      });
    }
    await peer.sendRaw(Buffer.concat(pieces.map(encodeFrame)));
    await peer.expectEcho(four, 'binary', 20_000);
    const sixteen = Buffer.alloc(16 << 20, 0x2a);
    await peer.sendBinary(sixteen);
    await peer.expectEcho(sixteen, 'binary', 20_000);
    const small = Array.from({ length: 1000 }, (_, i) => `message ${i}`);
    await peer.sendRaw(Buffer.concat(small.map((m) => encodeFrame({ opcode: Op.Text, payload: m }))));
    for (const m of small) await peer.expectEcho(m);
    await closeNormally(peer);
  });

  it('every case above ran on the one HTTP/2 session', () => {
    assert.equal(shared?.sessions(), 1);
    assert.equal(shared?.session.closed, false);
  });
});
