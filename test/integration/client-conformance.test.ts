// The switchboard client (connect()) against a hand-driven raw server: RFC 6455 §4.1 handshake checks, and the
// Autobahn families that apply to clients (1–7, 9, 10) on real sockets, incl. chopped frames and fail-fast rules.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { type ConnectOptions, connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { Message } from '../../src/connection/types.js';
import { HandshakeError } from '../../src/errors.js';
import {
  acceptFor,
  closeBody,
  type HandshakeReply,
  OP,
  RawServer,
  type RawServerOptions,
  rawFrame,
  within,
} from '../helpers/raw-server.js';
import { type Inbox, inboxOf } from '../helpers/inbox.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { pattern } from '../helpers/payloads.js';

const WAIT = 5_000;

/** Messages the client received, awaitable one at a time with a deadline. */
const clientInbox = (conn: Connection): Inbox<Message> => inboxOf(conn, WAIT, 'a message at the client');

interface Setup {
  srv: RawServer;
  conn: Connection;
  peer: Awaited<ReturnType<RawServer['nextPeer']>>;
  inbox: Inbox<Message>;
}

async function open(t: TestContext, client: ConnectOptions = {}, server: RawServerOptions = {}): Promise<Setup> {
  const srv = await RawServer.start(server);
  t.after(() => srv.close());
  const conn = await connect(srv.url('/'), client);
  t.after(() => conn.terminate());
  const peer = await srv.nextPeer();
  return { srv, conn, peer, inbox: clientInbox(conn) };
}

/** The client echoes every message back, as Autobahn's test client does. */
function echo(conn: Connection): void {
  conn.on('message', (m) => conn.send(m.data));
}

/** The client must fail the connection (§7.1.7): a masked close with `code`, then its FIN; `closed` reports it. */
async function expectFailure(s: Setup, code: number): Promise<void> {
  const close = await s.peer.readClose();
  assert.equal(close.code, code, `client should close with ${code}, sent ${close.code} "${close.reason}"`);
  await within(s.peer.ended, WAIT, 'the client to end TCP after failing');
  s.peer.end();
  const info = await within(s.conn.closed, WAIT, 'conn.closed');
  assert.equal(info.code, code);
  assert.equal(info.wasClean, false);
  assert.deepEqual(s.peer.maskViolations, []);
}

function text(n: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return chars.repeat(Math.ceil(n / chars.length)).slice(0, n);
}

const SIZES = [0, 125, 126, 127, 128, 65535, 65536, 1 << 20];

describe('client conformance: framing (Autobahn 1.x)', () => {
  for (const size of SIZES) {
    it(`receives and echoes a ${size}-byte text message`, async (t) => {
      const s = await open(t);
      echo(s.conn);
      const payload = text(size);
      await s.peer.send({ opcode: OP.text, payload });
      const m = await s.inbox.next();
      assert.deepEqual(m, { type: 'text', data: payload });
      const back = await s.peer.readMessage();
      assert.equal(back.opcode, OP.text);
      assert.equal(back.data.toString(), payload);
      assert.deepEqual(s.peer.maskViolations, []);
    });
    it(`receives and echoes a ${size}-byte binary message`, async (t) => {
      const s = await open(t);
      echo(s.conn);
      const payload = pattern(size, 1);
      await s.peer.send({ opcode: OP.binary, payload });
      const m = await s.inbox.next();
      assert.equal(m.type, 'binary');
      assert.ok(Buffer.isBuffer(m.data) && m.data.equals(payload));
      const back = await s.peer.readMessage();
      assert.equal(back.opcode, OP.binary);
      assert.ok(back.data.equals(payload));
      assert.deepEqual(s.peer.maskViolations, []);
    });
  }

  it('receives 65536-byte text and binary frames written in 997-byte chops (1.1.8, 1.2.8)', async (t) => {
    const s = await open(t);
    echo(s.conn);
    const t1 = text(65536);
    await s.peer.writeChopped(rawFrame({ opcode: OP.text, payload: t1 }), 997);
    assert.deepEqual(await s.inbox.next(), { type: 'text', data: t1 });
    const b1 = pattern(65536, 3);
    await s.peer.writeChopped(rawFrame({ opcode: OP.binary, payload: b1 }), 997);
    const m = await s.inbox.next();
    assert.ok(m.type === 'binary' && m.data.equals(b1));
    assert.equal((await s.peer.readMessage()).data.toString(), t1);
    assert.ok((await s.peer.readMessage()).data.equals(b1));
  });

  it('parses frames delivered one byte at a time, headers of every length form included', async (t) => {
    const s = await open(t);
    const frames = [0, 125, 126, 300].map((n) => rawFrame({ opcode: OP.text, payload: text(n) }));
    await s.peer.writeChopped(Buffer.concat(frames), 1);
    for (const n of [0, 125, 126, 300]) assert.deepEqual(await s.inbox.next(), { type: 'text', data: text(n) });
  });

  it('masks every frame it sends with a fresh key, for every length form', async (t) => {
    const s = await open(t);
    const sizes = [0, 1, 125, 126, 65535, 65536];
    for (const n of sizes) s.conn.send(pattern(n, n));
    s.conn.send('héllo');
    s.conn.ping('p');
    for (const n of sizes) {
      const f = await s.peer.readFrame();
      assert.equal(f.masked, true);
      assert.equal(f.opcode, OP.binary);
      assert.equal(f.fin, true);
      assert.ok(f.payload.equals(pattern(n, n)), `payload of ${n} bytes survives masking`);
    }
    assert.equal((await s.peer.readFrame()).payload.toString(), 'héllo');
    const ping = await s.peer.readFrame();
    assert.equal(ping.opcode, OP.ping);
    assert.equal(ping.payload.toString(), 'p');
    assert.deepEqual(s.peer.maskViolations, []);
  });
});

describe('client conformance: pings and pongs (Autobahn 2.x)', () => {
  const cases: Array<[string, Buffer]> = [
    ['an empty ping (2.1)', Buffer.alloc(0)],
    ['a text payload (2.2)', Buffer.from('Hello, world!')],
    ['a binary payload (2.3)', Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])],
    ['a 125-byte payload (2.4)', pattern(125, 1)],
  ];
  for (const [name, payload] of cases) {
    it(`answers ${name} with a masked pong carrying the same payload`, async (t) => {
      const s = await open(t);
      const pings: Buffer[] = [];
      s.conn.on('ping', (p) => pings.push(Buffer.from(p)));
      await s.peer.send({ opcode: OP.ping, payload });
      const pong = await s.peer.readFrame();
      assert.equal(pong.opcode, OP.pong);
      assert.equal(pong.fin, true);
      assert.equal(pong.masked, true);
      assert.ok(pong.payload.equals(payload));
      assert.deepEqual(s.peer.maskViolations, []);
      assert.equal(pings.length, 1);
      assert.ok(pings[0]!.equals(payload));
    });
  }

  it('answers a 125-byte ping written one byte at a time (2.6)', async (t) => {
    const s = await open(t);
    const payload = pattern(125, 9);
    await s.peer.writeChopped(rawFrame({ opcode: OP.ping, payload }), 1);
    const pong = await s.peer.readFrame();
    assert.equal(pong.opcode, OP.pong);
    assert.ok(pong.payload.equals(payload));
  });

  it('fails with 1002 on a ping with a 126-byte payload (2.5)', async (t) => {
    const s = await open(t);
    await s.peer.send({ opcode: OP.ping, payload: pattern(126, 1) });
    await expectFailure(s, 1002);
  });

  it('ignores unsolicited pongs, then answers a ping (2.7–2.9)', async (t) => {
    const s = await open(t);
    const pongs: string[] = [];
    s.conn.on('pong', (p) => pongs.push(p.toString()));
    await s.peer.send({ opcode: OP.pong });
    await s.peer.send({ opcode: OP.pong, payload: 'unsolicited pong payload' });
    await s.peer.send({ opcode: OP.ping, payload: 'ping payload' });
    const f = await s.peer.readFrame();
    assert.equal(f.opcode, OP.pong, 'the first frame the client sends answers the ping, not the pongs');
    assert.equal(f.payload.toString(), 'ping payload');
    assert.deepEqual(pongs, ['', 'unsolicited pong payload']);
  });

  it('answers 10 pings in a row, each with its own pong, in order (2.10, 2.11 chopped)', async (t) => {
    const s = await open(t);
    const burst = Buffer.concat(Array.from({ length: 10 }, (_, i) => rawFrame({ opcode: OP.ping, payload: `p${i}` })));
    await s.peer.write(burst);
    await s.peer.writeChopped(
      Buffer.concat(Array.from({ length: 10 }, (_, i) => rawFrame({ opcode: OP.ping, payload: `q${i}` }))),
      1,
    );
    for (const prefix of ['p', 'q']) {
      for (let i = 0; i < 10; i++) {
        const f = await s.peer.readFrame();
        assert.equal(f.opcode, OP.pong);
        assert.equal(f.payload.toString(), `${prefix}${i}`);
      }
    }
    assert.deepEqual(s.peer.maskViolations, []);
  });

  it('pings the server with a masked ping and emits the pong it gets back', async (t) => {
    const s = await open(t);
    const pong = new Promise<Buffer>((resolve) => s.conn.once('pong', resolve));
    s.conn.ping(Buffer.from('are you there'));
    const f = await s.peer.readFrame();
    assert.equal(f.opcode, OP.ping);
    assert.equal(f.masked, true);
    await s.peer.send({ opcode: OP.pong, payload: f.payload });
    assert.equal((await within(pong, WAIT, 'pong event')).toString(), 'are you there');
  });
});

describe('client conformance: reserved bits (Autobahn 3.x)', () => {
  const bits: Array<[string, Partial<Record<'rsv1' | 'rsv2' | 'rsv3', boolean>>, number]> = [
    ['RSV1 without permessage-deflate on text', { rsv1: true }, OP.text],
    ['RSV2 on text (3.1)', { rsv2: true }, OP.text],
    ['RSV3 on text (3.4)', { rsv3: true }, OP.text],
    ['RSV1+RSV3 on binary (3.5)', { rsv1: true, rsv3: true }, OP.binary],
    ['RSV2+RSV3 on ping (3.6)', { rsv2: true, rsv3: true }, OP.ping],
    ['all RSV bits on close (3.7)', { rsv1: true, rsv2: true, rsv3: true }, OP.close],
  ];
  for (const [name, flags, opcode] of bits) {
    it(`fails with 1002 on ${name}`, async (t) => {
      const s = await open(t);
      await s.peer.send({ opcode, payload: opcode === OP.close ? closeBody(1000) : 'Hello', ...flags });
      await expectFailure(s, 1002);
      assert.equal(s.inbox.messages.length, 0);
    });
  }

  it('echoes a good message, then fails on an RSV2 frame and does not answer the ping behind it (3.2, 3.3)', async (t) => {
    const s = await open(t);
    echo(s.conn);
    await s.peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.text, payload: 'Hello, world!' }),
        rawFrame({ opcode: OP.text, payload: 'Hello, world!', rsv2: true }),
        rawFrame({ opcode: OP.ping, payload: 'after' }),
      ]),
    );
    const back = await s.peer.readMessage();
    assert.equal(back.data.toString(), 'Hello, world!');
    const close = await s.peer.readClose();
    assert.equal(close.code, 1002);
    assert.equal(close.skipped, 0, 'no pong for a ping that follows the protocol error');
    assert.equal(s.inbox.messages.length, 1);
  });
});

describe('client conformance: opcodes (Autobahn 4.x)', () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`fails with 1002 on reserved opcode 0x${opcode.toString(16)}, even after a good message`, async (t) => {
      const s = await open(t);
      echo(s.conn);
      await s.peer.write(
        Buffer.concat([
          rawFrame({ opcode: OP.text, payload: 'Hello' }),
          rawFrame({ opcode, payload: 'reserved' }),
          rawFrame({ opcode: OP.ping }),
        ]),
      );
      assert.equal((await s.peer.readMessage()).data.toString(), 'Hello');
      const close = await s.peer.readClose();
      assert.equal(close.code, 1002);
      assert.equal(close.skipped, 0);
    });
  }
});

describe('client conformance: fragmentation (Autobahn 5.x)', () => {
  it('fails with 1002 on a fragmented ping (5.1) and a fragmented pong (5.2)', async (t) => {
    for (const opcode of [OP.ping, OP.pong]) {
      const s = await open(t);
      await s.peer.write(
        Buffer.concat([
          rawFrame({ opcode, payload: 'frag1', fin: false }),
          rawFrame({ opcode: OP.cont, payload: 'frag2' }),
        ]),
      );
      await expectFailure(s, 1002);
    }
  });

  it('assembles a text message in 2 fragments, also written one byte at a time (5.3, 5.4)', async (t) => {
    const s = await open(t);
    echo(s.conn);
    const frames = Buffer.concat([
      rawFrame({ opcode: OP.text, payload: 'fragment1', fin: false }),
      rawFrame({ opcode: OP.cont, payload: 'fragment2' }),
    ]);
    await s.peer.write(frames);
    await s.peer.writeChopped(frames, 1);
    assert.deepEqual(await s.inbox.next(), { type: 'text', data: 'fragment1fragment2' });
    assert.deepEqual(await s.inbox.next(), { type: 'text', data: 'fragment1fragment2' });
    assert.equal((await s.peer.readMessage()).data.toString(), 'fragment1fragment2');
  });

  it('answers a ping between fragments before the message completes (5.6–5.8, 5.19)', async (t) => {
    const s = await open(t);
    echo(s.conn);
    await s.peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.text, payload: 'fragment1', fin: false }),
        rawFrame({ opcode: OP.ping, payload: 'pongme!' }),
      ]),
    );
    const pong = await s.peer.readFrame();
    assert.equal(pong.opcode, OP.pong);
    assert.equal(pong.payload.toString(), 'pongme!');
    assert.equal(s.inbox.messages.length, 0, 'the message is not complete yet');
    await s.peer.send({ opcode: OP.cont, payload: 'fragment2', fin: false });
    await s.peer.send({ opcode: OP.ping, payload: 'again' });
    assert.equal((await s.peer.readFrame()).payload.toString(), 'again');
    await s.peer.send({ opcode: OP.cont, payload: 'fragment3' });
    assert.deepEqual(await s.inbox.next(), { type: 'text', data: 'fragment1fragment2fragment3' });
    assert.equal((await s.peer.readMessage()).data.toString(), 'fragment1fragment2fragment3');
  });

  it('assembles binary messages of many fragments, empty ones included', async (t) => {
    const s = await open(t);
    const whole = pattern(1000, 5);
    const pieces = [0, 1, 100, 0, 399, 500].reduce<Buffer[]>((acc, n) => {
      const used = acc.reduce((a, b) => a + b.length, 0);
      acc.push(whole.subarray(used, used + n));
      return acc;
    }, []);
    const frames = pieces.map((p, i) =>
      rawFrame({ opcode: i === 0 ? OP.binary : OP.cont, payload: p, fin: i === pieces.length - 1 }),
    );
    await s.peer.write(Buffer.concat(frames));
    const m = await s.inbox.next();
    assert.ok(m.type === 'binary' && m.data.equals(whole));
  });

  const bad: Array<[string, Buffer[]]> = [
    ['a continuation with FIN and no message (5.9)', [rawFrame({ opcode: OP.cont, payload: 'x' })]],
    ['a continuation without FIN and no message (5.10)', [rawFrame({ opcode: OP.cont, payload: 'x', fin: false })]],
    [
      'a continuation after a complete message (5.15)',
      [rawFrame({ opcode: OP.text, payload: 'a' }), rawFrame({ opcode: OP.cont, payload: 'b' })],
    ],
    [
      'a new text frame inside a fragmented message (5.18)',
      [rawFrame({ opcode: OP.text, payload: 'a', fin: false }), rawFrame({ opcode: OP.text, payload: 'b' })],
    ],
    [
      'a new binary frame inside a fragmented text message',
      [
        rawFrame({ opcode: OP.text, payload: 'a', fin: false }),
        rawFrame({ opcode: OP.binary, payload: 'b', fin: false }),
      ],
    ],
  ];
  for (const [name, frames] of bad) {
    it(`fails with 1002 on ${name}`, async (t) => {
      const s = await open(t);
      await s.peer.write(Buffer.concat(frames));
      await expectFailure(s, 1002);
    });
  }
});

describe('client conformance: UTF-8 (Autobahn 6.x)', () => {
  const sample = 'κόσμε-€-𝄞-\u{10ffff}';
  const sampleBytes = Buffer.from(sample);

  it('accepts valid UTF-8 split into two fragments at every byte (6.2, 6.5)', async (t) => {
    const s = await open(t);
    const frames: Buffer[] = [];
    for (let i = 0; i <= sampleBytes.length; i++) {
      frames.push(rawFrame({ opcode: OP.text, payload: sampleBytes.subarray(0, i), fin: false }));
      frames.push(rawFrame({ opcode: OP.cont, payload: sampleBytes.subarray(i) }));
    }
    await s.peer.write(Buffer.concat(frames));
    for (let i = 0; i <= sampleBytes.length; i++) {
      assert.deepEqual(await s.inbox.next(), { type: 'text', data: sample }, `split at byte ${i}`);
    }
  });

  it('accepts valid UTF-8 delivered one byte at a time, in one frame and in one-byte fragments', async (t) => {
    const s = await open(t);
    await s.peer.writeChopped(rawFrame({ opcode: OP.text, payload: sampleBytes }), 1);
    const oneByteFrames = [...sampleBytes].map((b, i) =>
      rawFrame({ opcode: i === 0 ? OP.text : OP.cont, payload: Buffer.from([b]), fin: i === sampleBytes.length - 1 }),
    );
    await s.peer.write(Buffer.concat(oneByteFrames));
    assert.deepEqual(await s.inbox.next(), { type: 'text', data: sample });
    assert.deepEqual(await s.inbox.next(), { type: 'text', data: sample });
  });

  it('accepts empty text fragments around a message (6.1)', async (t) => {
    const s = await open(t);
    await s.peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.text, fin: false }),
        rawFrame({ opcode: OP.cont, fin: false }),
        rawFrame({ opcode: OP.cont }),
      ]),
    );
    assert.deepEqual(await s.inbox.next(), { type: 'text', data: '' });
  });

  const invalid: Array<[string, Buffer]> = [
    ['a lone continuation byte', Buffer.from([0x80])],
    ['an overlong encoding of "/"', Buffer.from([0xc0, 0xaf])],
    ['a UTF-16 surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['a code point above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['a truncated sequence at the end', Buffer.from([0x41, 0xe2, 0x82])],
    ['0xFE', Buffer.from([0xfe])],
  ];
  for (const [name, bytes] of invalid) {
    it(`fails with 1007 on ${name} in a single frame (6.3)`, async (t) => {
      const s = await open(t);
      await s.peer.send({ opcode: OP.text, payload: Buffer.concat([Buffer.from('ok '), bytes]) });
      await expectFailure(s, 1007);
      assert.equal(s.inbox.messages.length, 0);
    });
  }

  it('fails with 1007 when the invalid byte is in the last fragment', async (t) => {
    const s = await open(t);
    await s.peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.text, payload: 'valid ', fin: false }),
        rawFrame({ opcode: OP.cont, payload: Buffer.from([0xed, 0xa0, 0x80]) }),
      ]),
    );
    await expectFailure(s, 1007);
  });

  it('fails fast with 1007 inside a fragmented message whose rest never comes (6.4.1, 6.4.2)', async (t) => {
    const s = await open(t);
    // κόσμε, then U+110000 as four bytes: invalid at the 0x90.
    await s.peer.send({
      opcode: OP.text,
      payload: Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xf4, 0x90, 0x80, 0x80])]),
      fin: false,
    });
    await expectFailure(s, 1007);
  });

  it('fails fast with 1007 inside a single frame whose payload is still arriving (6.4.3, 6.4.4)', async (t) => {
    const s = await open(t);
    const payload = Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('edited')]);
    const whole = rawFrame({ opcode: OP.text, payload });
    // Header and the first 14 payload bytes (through the bad 0x90) only; the rest is never written.
    await s.peer.write(whole.subarray(0, 2 + 14));
    await expectFailure(s, 1007);
  });
});

describe('client conformance: closing (Autobahn 7.x)', () => {
  it('echoes a server close 1000 and resolves closed cleanly only once the server closes TCP (7.1.1)', async (t) => {
    const s = await open(t);
    echo(s.conn);
    await s.peer.send({ opcode: OP.text, payload: 'Hello World!' });
    assert.equal((await s.peer.readMessage()).data.toString(), 'Hello World!');
    await s.peer.send({ opcode: OP.close, payload: closeBody(1000, 'bye') });
    const close = await s.peer.readClose();
    assert.equal(close.code, 1000);
    assert.equal(close.skipped, 0);
    let settled = false;
    void s.conn.closed.then(() => {
      settled = true;
    });
    // A few event-loop turns: the client must still be waiting for the server's TCP close (§7.1.1).
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'closed must not resolve before the server closes TCP');
    assert.equal(s.conn.readyState, 2);
    assert.equal(s.conn.send('late'), false, 'no sends after the close handshake');
    s.peer.end();
    const info = await within(s.conn.closed, WAIT, 'conn.closed');
    assert.deepEqual(info, { code: 1000, reason: 'bye', wasClean: true });
    assert.deepEqual(s.peer.maskViolations, []);
  });

  it('echoes an empty close with an empty close and reports 1005 (7.3.1)', async (t) => {
    const s = await open(t);
    await s.peer.send({ opcode: OP.close });
    const close = await s.peer.readClose();
    assert.equal(close.payload.length, 0);
    s.peer.end();
    assert.deepEqual(await within(s.conn.closed, WAIT, 'closed'), { code: 1005, reason: '', wasClean: true });
  });

  it('accepts a close reason of 123 bytes (7.3.5)', async (t) => {
    const s = await open(t);
    const reason = text(123);
    await s.peer.send({ opcode: OP.close, payload: closeBody(1000, reason) });
    assert.equal((await s.peer.readClose()).code, 1000);
    s.peer.end();
    assert.equal((await within(s.conn.closed, WAIT, 'closed')).reason, reason);
  });

  it('fails with 1002 on a 1-byte close payload (7.3.2)', async (t) => {
    const s = await open(t);
    await s.peer.send({ opcode: OP.close, payload: Buffer.from([0x03]) });
    await expectFailure(s, 1002);
  });

  it('fails with 1002 on a close reason of 124 bytes (a 126-byte control frame, 7.3.6)', async (t) => {
    const s = await open(t);
    await s.peer.send({ opcode: OP.close, payload: closeBody(1000, text(124)) });
    await expectFailure(s, 1002);
  });

  it('fails with 1007 on a close reason that is not UTF-8 (7.5.1)', async (t) => {
    const s = await open(t);
    await s.peer.send({
      opcode: OP.close,
      payload: closeBody(1000, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xff])),
    });
    await expectFailure(s, 1007);
  });

  it('echoes every valid close code (7.7.x, 7.13)', async (t) => {
    const srv = await RawServer.start();
    t.after(() => srv.close());
    for (const code of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
    ]) {
      const conn = await connect(srv.url());
      t.after(() => conn.terminate());
      const peer = await srv.nextPeer();
      await peer.send({ opcode: OP.close, payload: closeBody(code, 'r') });
      assert.equal((await peer.readClose()).code, code, `echo of ${code}`);
      peer.end();
      assert.deepEqual(await within(conn.closed, WAIT, 'closed'), { code, reason: 'r', wasClean: true });
    }
  });

  it('fails with 1002 on every invalid close code (7.9.x)', async (t) => {
    const srv = await RawServer.start();
    t.after(() => srv.close());
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      const conn = await connect(srv.url());
      t.after(() => conn.terminate());
      const peer = await srv.nextPeer();
      await peer.send({ opcode: OP.close, payload: closeBody(code) });
      await expectFailure({ srv, conn, peer, inbox: clientInbox(conn) }, 1002);
    }
  });

  it('ignores data, pings and a second close after the close frame (7.1.2–7.1.4)', async (t) => {
    const s = await open(t);
    await s.peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.close, payload: closeBody(1000) }),
        rawFrame({ opcode: OP.text, payload: 'after close' }),
        rawFrame({ opcode: OP.ping, payload: 'after close' }),
        rawFrame({ opcode: OP.close, payload: closeBody(1001) }),
      ]),
    );
    assert.equal((await s.peer.readClose()).code, 1000);
    s.peer.end();
    await within(s.peer.ended, WAIT, 'client FIN');
    assert.deepEqual(await within(s.conn.closed, WAIT, 'closed'), { code: 1000, reason: '', wasClean: true });
    await assert.rejects(s.peer.readFrame(), /closed the TCP connection/, 'nothing after the close echo');
    assert.equal(s.inbox.messages.length, 0);
  });

  it('drops a fragmented message interrupted by a close (7.1.5)', async (t) => {
    const s = await open(t);
    await s.peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.text, payload: 'fragment1', fin: false }),
        rawFrame({ opcode: OP.close, payload: closeBody(1000) }),
        rawFrame({ opcode: OP.cont, payload: 'fragment2' }),
      ]),
    );
    assert.equal((await s.peer.readClose()).code, 1000);
    s.peer.end();
    assert.equal((await within(s.conn.closed, WAIT, 'closed')).code, 1000);
    assert.equal(s.inbox.messages.length, 0);
  });

  it('closes from the client side: masked close, waits for the echo and the server FIN', async (t) => {
    const s = await open(t);
    const done = s.conn.close(4000, 'done here');
    assert.equal(s.conn.send('late'), false);
    const close = await s.peer.readClose();
    assert.equal(close.code, 4000);
    assert.equal(close.reason, 'done here');
    await s.peer.send({ opcode: OP.close, payload: closeBody(4000, 'done here') });
    s.peer.end();
    assert.deepEqual(await within(done, WAIT, 'close()'), { code: 4000, reason: 'done here', wasClean: true });
    assert.deepEqual(s.peer.maskViolations, []);
  });

  it('ends a close handshake the server never completes at the client close timeout', async (t) => {
    const s = await open(t, { closeTimeout: 300 });
    await s.peer.send({ opcode: OP.close, payload: closeBody(1000) });
    await s.peer.readClose();
    const echoedAt = performance.now();
    // The server never closes TCP: the client must not close first (§7.1.1) but also not wait forever.
    await within(Promise.race([s.peer.ended, s.peer.closed]), WAIT, 'the client to give up on the server');
    const waited = performance.now() - echoedAt;
    assert.ok(waited >= 250, `the client closed TCP after ${waited.toFixed(0)} ms, before its 300 ms close timeout`);
    const info = await within(s.conn.closed, WAIT, 'closed');
    assert.equal(info.code, 1000);
  });

  it('ends a client-initiated close the server never answers at the close timeout, as not clean', async (t) => {
    const s = await open(t, { closeTimeout: 300 });
    const started = performance.now();
    const done = s.conn.close(1000);
    assert.equal((await s.peer.readClose()).code, 1000);
    const info = await within(done, WAIT, 'close()');
    assert.ok(performance.now() - started >= 250);
    assert.equal(info.wasClean, false);
    assert.equal(info.code, 1000);
  });

  it('fails with 1002 on a masked server frame (§5.1)', async (t) => {
    const s = await open(t);
    await s.peer.send({ opcode: OP.text, payload: 'masked', mask: [1, 2, 3, 4] });
    await expectFailure(s, 1002);
    assert.equal(s.inbox.messages.length, 0);
  });

  it('reports 1006 when the server drops TCP without a close frame', async (t) => {
    const s = await open(t);
    s.peer.destroy();
    assert.deepEqual(await within(s.conn.closed, WAIT, 'closed'), { code: 1006, reason: '', wasClean: false });
  });
});

describe('client conformance: limits and large messages (Autobahn 9.x, 10.x)', () => {
  it('receives and echoes a 16 MiB binary message (9.2.6)', async (t) => {
    const s = await open(t);
    echo(s.conn);
    const big = pattern(16 << 20, 7);
    await s.peer.write(rawFrame({ opcode: OP.binary, payload: big }));
    const m = await s.inbox.next(20_000);
    assert.ok(m.type === 'binary' && m.data.equals(big));
    const back = await s.peer.readMessage(20_000);
    assert.ok(back.data.equals(big));
  });

  it('receives a 4 MiB text message in 64 KiB fragments and a 1 MiB one in 256-byte fragments (9.3, 9.4)', async (t) => {
    const s = await open(t);
    for (const [total, size] of [
      [4 << 20, 65536],
      [1 << 20, 256],
    ] as const) {
      const whole = text(total);
      const frames: Buffer[] = [];
      for (let at = 0; at < total; at += size) {
        frames.push(
          rawFrame({
            opcode: at === 0 ? OP.text : OP.cont,
            payload: whole.slice(at, at + size),
            fin: at + size >= total,
          }),
        );
      }
      await s.peer.write(Buffer.concat(frames));
      const m = await s.inbox.next(10_000);
      assert.equal(m.type, 'text');
      assert.equal(m.data, whole);
    }
  });

  it('fails with 1009 on a message above maxMessageSize, whole or fragmented', async (t) => {
    const s = await open(t, { maxMessageSize: 1024 });
    await s.peer.send({ opcode: OP.binary, payload: pattern(1024, 1) });
    assert.equal((await s.inbox.next()).type, 'binary');
    await s.peer.send({ opcode: OP.binary, payload: pattern(1025, 1) });
    await expectFailure(s, 1009);

    const f = await open(t, { maxMessageSize: 1024 });
    await f.peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.text, payload: text(600), fin: false }),
        rawFrame({ opcode: OP.cont, payload: text(600), fin: false }),
      ]),
    );
    await expectFailure(f, 1009);
  });

  it('delivers 10,000 small messages in order both ways (9.7, 9.8)', async (t) => {
    const s = await open(t);
    echo(s.conn);
    const n = 10_000;
    const frames = Array.from({ length: n }, (_, i) =>
      i % 2 === 0
        ? rawFrame({ opcode: OP.text, payload: `msg ${i}` })
        : rawFrame({ opcode: OP.binary, payload: `bin ${i}` }),
    );
    await s.peer.write(Buffer.concat(frames));
    for (let i = 0; i < n; i++) {
      const m = await s.inbox.next();
      assert.equal(m.type, i % 2 === 0 ? 'text' : 'binary');
      assert.equal(m.data.toString(), i % 2 === 0 ? `msg ${i}` : `bin ${i}`);
    }
    for (let i = 0; i < n; i++) {
      const back = await s.peer.readMessage();
      assert.equal(back.opcode, i % 2 === 0 ? OP.text : OP.binary);
      assert.equal(back.data.toString(), i % 2 === 0 ? `msg ${i}` : `bin ${i}`);
    }
    assert.deepEqual(s.peer.maskViolations, []);
  });

  it('sends a streamed message as masked fragments (10.1)', async (t) => {
    const s = await open(t);
    const w = s.conn.writer('binary');
    const whole = pattern(65536, 4);
    for (let at = 0; at < whole.length; at += 1300) w.write(whole.subarray(at, at + 1300));
    w.end();
    const m = await s.peer.readMessage();
    assert.equal(m.opcode, OP.binary);
    assert.ok(m.data.equals(whole));
    assert.ok(m.frames > 1, 'sent in several frames');
    assert.deepEqual(s.peer.maskViolations, []);
  });
});

describe('client handshake (RFC 6455 §4.1)', () => {
  async function rejectWith(
    t: TestContext,
    reply: HandshakeReply,
    options: ConnectOptions = {},
  ): Promise<HandshakeError> {
    const srv = await RawServer.start({ handshake: () => reply });
    t.after(() => srv.close());
    const err = await connect(srv.url(), options).then(
      (conn) => {
        conn.terminate();
        assert.fail('connect() should have rejected');
      },
      (e: unknown) => e,
    );
    assert.ok(err instanceof HandshakeError, `expected a HandshakeError, got ${String(err)}`);
    // The client must not leave the socket open after rejecting.
    const peer = await srv.nextPeer();
    await within(Promise.race([peer.ended, peer.closed]), WAIT, 'the client to close the socket');
    return err;
  }

  it('sends a well-formed request: GET, path and query, Host, Upgrade, Connection, a fresh 16-byte key, version 13', async (t) => {
    const srv = await RawServer.start();
    t.after(() => srv.close());
    const a = await connect(srv.url('/chat/room?x=1&y=2'));
    t.after(() => a.terminate());
    const b = await connect(srv.url('/chat/room?x=1&y=2'));
    t.after(() => b.terminate());
    const [pa, pb] = [await srv.nextPeer(), await srv.nextPeer()];
    for (const p of [pa, pb]) {
      assert.equal(p.request.method, 'GET');
      assert.equal(p.request.path, '/chat/room?x=1&y=2');
      assert.equal(p.request.httpVersion, '1.1');
      assert.equal(p.request.headers.host, `127.0.0.1:${srv.port}`);
      assert.equal(p.request.headers.upgrade?.toLowerCase(), 'websocket');
      assert.match(p.request.headers.connection ?? '', /upgrade/i);
      assert.equal(p.request.headers['sec-websocket-version'], '13');
      assert.equal(Buffer.from(p.request.headers['sec-websocket-key'] ?? '', 'base64').length, 16);
      assert.equal(p.request.headers['sec-websocket-protocol'], undefined);
      assert.equal(p.request.headers['sec-websocket-extensions'], undefined);
    }
    assert.notEqual(pa.request.headers['sec-websocket-key'], pb.request.headers['sec-websocket-key']);
  });

  it('sends custom headers, Origin and the offered subprotocols; returns the selected one', async (t) => {
    const srv = await RawServer.start({ handshake: () => ({ protocol: 'chat.v2' }) });
    t.after(() => srv.close());
    const conn = await connect(srv.url(), {
      headers: { Authorization: 'Bearer abc', 'X-Trace': '42' },
      origin: 'https://app.example.com',
      protocols: ['chat.v1', 'chat.v2'],
    });
    t.after(() => conn.terminate());
    const peer = await srv.nextPeer();
    assert.equal(peer.request.headers.authorization, 'Bearer abc');
    assert.equal(peer.request.headers['x-trace'], '42');
    assert.equal(peer.request.headers.origin, 'https://app.example.com');
    assert.equal(peer.request.headers['sec-websocket-protocol'], 'chat.v1, chat.v2');
    assert.equal(conn.protocol, 'chat.v2');
  });

  it('maps http:// to ws:// and connects', async (t) => {
    const srv = await RawServer.start();
    t.after(() => srv.close());
    const conn = await connect(srv.url('/x', 'http'));
    t.after(() => conn.terminate());
    assert.equal((await srv.nextPeer()).request.path, '/x');
  });

  it('throws TypeError synchronously on invalid URLs and reserved headers', () => {
    for (const url of ['ftp://127.0.0.1/', 'ws://127.0.0.1/#frag', 'not a url', '', 'mailto:a@b.c']) {
      assert.throws(() => connect(url), TypeError, `connect(${JSON.stringify(url)})`);
    }
    for (const name of [
      'Sec-WebSocket-Key',
      'upgrade',
      'Connection',
      'sec-websocket-version',
      'Sec-WebSocket-Protocol',
    ]) {
      assert.throws(() => connect('ws://127.0.0.1:1/', { headers: { [name]: 'x' } }), TypeError, name);
    }
    assert.throws(() => connect('ws://127.0.0.1:1/', { protocols: ['bad protocol'] }), TypeError);
  });

  it('a refusal whose body is cut by a reset still reports the status and the start of the body', async (t) => {
    // The reset comes once the client has parsed the 403 (node's diagnostics channel says when), mid-body.
    let server: Socket | null = null;
    const onResponse = (): void => {
      server?.resetAndDestroy();
    };
    diagnosticsChannel.subscribe('http.client.response.finish', onResponse);
    t.after(() => diagnosticsChannel.unsubscribe('http.client.response.finish', onResponse));
    const srv = createServer((socket) => {
      let request = '';
      socket.on('data', (chunk) => {
        request += chunk.toString('latin1');
        if (!request.includes('\r\n\r\n')) return;
        server = socket;
        socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 1000\r\n\r\nno token given');
      });
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    t.after(() => srv.close());
    const { port } = srv.address() as { port: number };
    const err = await connect(`ws://127.0.0.1:${port}/`).then(
      () => assert.fail('connect() should have rejected'),
      (e: unknown) => e as HandshakeError,
    );
    assert.ok(err instanceof HandshakeError);
    assert.equal(err.code, 'ERR_HANDSHAKE_REFUSED');
    assert.equal(err.status, 403);
    assert.equal(err.body, 'no token given');
  });

  it('throws TypeError at once on a header or TLS option node refuses, leaving no handshake timer to fire later', () => {
    // These used to reject instead, with the handshake timer still armed: when it fired, fail() called destroy() on a
    // request that was never made, an uncaught TypeError that killed the process handshakeTimeout ms later.
    const clock = new ManualClock();
    const misuse: Array<[string, ConnectOptions]> = [
      ['ws://127.0.0.1:1/', { headers: { 'X-A': 'a\r\nInjected: 1' } }],
      ['ws://127.0.0.1:1/', { headers: { 'Bad Name': 'v' } }],
      ['ws://127.0.0.1:1/', { headers: { ':path': '/elsewhere' }, http2: true }],
      ['ws://127.0.0.1:1/', { origin: 'http://a.example\r\nCookie: x=1', http2: true }],
      ['wss://127.0.0.1:1/', { tls: { minVersion: 'bogus' as 'TLSv1.3' } }],
    ];
    for (const [url, options] of misuse) {
      assert.throws(() => connect(url, { ...options, clock }), TypeError, JSON.stringify(options));
    }
    assert.equal(clock.pending, 0, 'no handshake timer left armed');
    clock.advance(60_000);
  });

  const wrong: Array<[string, HandshakeReply, number, RegExp, ConnectOptions?]> = [
    ['404 Not Found', { status: 404, reason: 'Not Found', body: 'no such endpoint' }, 404, /404/],
    ['403 Forbidden', { status: 403, reason: 'Forbidden' }, 403, /403/],
    ['200 OK', { status: 200, reason: 'OK', body: 'hello' }, 200, /200/],
    ['a 302 redirect', { status: 302, reason: 'Found', headers: { Location: '/elsewhere' } }, 302, /302/],
    ['an HTTP/1.0 101 (Upgrade is HTTP/1.1)', { version: '1.0' }, 101, /HTTP\/1\.0/],
    ['a 101 without Upgrade', { upgrade: null }, 101, /Upgrade/],
    ['a 101 with Upgrade: h2c', { upgrade: 'h2c' }, 101, /Upgrade/],
    ['a 101 without Connection', { connection: null }, 101, /Connection/],
    ['a 101 with Connection: keep-alive', { connection: 'keep-alive' }, 101, /Connection/],
    [
      'a 101 with a wrong Sec-WebSocket-Accept',
      { accept: acceptFor('AAAAAAAAAAAAAAAAAAAAAA==') },
      101,
      /Sec-WebSocket-Accept is wrong/,
    ],
    ['a 101 without Sec-WebSocket-Accept', { accept: null }, 101, /Sec-WebSocket-Accept is missing/],
    ['a 101 selecting a subprotocol nobody offered', { protocol: 'evil' }, 101, /subprotocol "evil".*not offered/],
    [
      'a 101 selecting a subprotocol that was not offered',
      { protocol: 'c' },
      101,
      /subprotocol "c"/,
      { protocols: ['a', 'b'] },
    ],
    [
      'a 101 selecting two subprotocols',
      { protocol: 'a, b' },
      101,
      /more than one subprotocol/,
      { protocols: ['a', 'b'] },
    ],
    [
      'a 101 enabling an extension that was not offered',
      { extensions: 'permessage-deflate' },
      101,
      /extension.*not offered/,
    ],
    [
      'a 101 enabling an unknown extension instead of permessage-deflate',
      { extensions: 'x-webkit-deflate-frame' },
      101,
      /x-webkit-deflate-frame.*not offered/,
      { compression: 'dedicated' },
    ],
    [
      'a 101 with an invalid permessage-deflate parameter',
      { extensions: 'permessage-deflate; server_max_window_bits=20' },
      101,
      /server_max_window_bits/,
      { compression: 'dedicated' },
    ],
  ];
  for (const [name, reply, status, message, options] of wrong) {
    it(`rejects ${name} with a HandshakeError (status ${status}) naming the problem`, async (t) => {
      const err = await rejectWith(t, reply, options);
      assert.equal(err.status, status);
      assert.equal(err.code, status === 101 ? 'ERR_HANDSHAKE_INVALID' : 'ERR_HANDSHAKE_REFUSED');
      assert.match(err.message, message);
    });
  }

  it('negotiates permessage-deflate when the server accepts the offer', async (t) => {
    const srv = await RawServer.start({
      handshake: () => ({ extensions: 'permessage-deflate; client_max_window_bits=15' }),
    });
    t.after(() => srv.close());
    const conn = await connect(srv.url(), { compression: 'dedicated' });
    t.after(() => conn.terminate());
    const peer = await srv.nextPeer();
    assert.match(peer.request.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
    assert.match(conn.extensions, /permessage-deflate/);
    conn.send('a'.repeat(2000));
    const f = await peer.readFrame();
    assert.equal(f.rsv1, true, 'a 2000-byte message (above the default threshold) is sent compressed');
    assert.ok(f.payload.length < 100);
  });

  it('waits for a delayed answer within the handshake timeout', async (t) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked!: () => void;
    const requested = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const srv = await RawServer.start({
      handshake: async () => {
        asked();
        await gate;
        return {};
      },
    });
    t.after(() => srv.close());
    let done = false;
    const pending = connect(srv.url(), { handshakeTimeout: 5_000 }).then((conn) => {
      done = true;
      t.after(() => conn.terminate());
      return conn;
    });
    await within(requested, WAIT, 'the request');
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(done, false, 'still waiting for the answer');
    release();
    const conn = await within(pending, WAIT, 'the delayed connection');
    assert.equal(conn.readyState, 1);
  });

  it('a handshakeTimeout beyond what a node timer holds (2^31 - 1 ms) is a long wait, not an instant timeout', async (t) => {
    // node sets a longer setTimeout to 1 ms (TimeoutOverflowWarning): "wait very long" used to fail at once.
    const srv = await RawServer.start();
    t.after(() => srv.close());
    const conn = await connect(srv.url(), { handshakeTimeout: 2 ** 31 });
    t.after(() => conn.terminate());
    assert.equal(conn.readyState, 1);
  });

  it('rejects with ERR_HANDSHAKE_TIMEOUT when the server never answers, and closes the socket', async (t) => {
    const srv = await RawServer.start({ handshake: () => null });
    t.after(() => srv.close());
    const started = performance.now();
    await assert.rejects(connect(srv.url(), { handshakeTimeout: 200 }), (err: unknown) => {
      assert.ok(err instanceof HandshakeError);
      assert.equal(err.code, 'ERR_HANDSHAKE_TIMEOUT');
      assert.equal(err.status, 0);
      return true;
    });
    assert.ok(performance.now() - started >= 180);
    const peer = await srv.nextPeer();
    await within(Promise.race([peer.ended, peer.closed]), WAIT, 'the client to close the socket');
  });

  it('rejects with ERR_ABORTED when the signal aborts mid-handshake, or was aborted before', async (t) => {
    const srv = await RawServer.start({ handshake: () => null });
    t.after(() => srv.close());
    const ac = new AbortController();
    const pending = connect(srv.url(), { signal: ac.signal });
    const peer = await srv.nextPeer();
    ac.abort();
    await assert.rejects(pending, (err: unknown) => err instanceof HandshakeError && err.code === 'ERR_ABORTED');
    await within(Promise.race([peer.ended, peer.closed]), WAIT, 'the client to close the socket');
    await assert.rejects(
      connect(srv.url(), { signal: AbortSignal.abort() }),
      (err: unknown) => err instanceof HandshakeError && err.code === 'ERR_ABORTED',
    );
  });

  it('rejects when the connection is refused', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(connect(`ws://127.0.0.1:${port}/`), (err: unknown) => {
      assert.ok(err instanceof HandshakeError);
      assert.equal(err.code, 'ERR_CONNECT_FAILED');
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  });

  it('rejects when the server closes the connection without answering', async (t) => {
    const srv = await RawServer.start({
      handshake: (_req, peer) => {
        peer.end();
        return null;
      },
    });
    t.after(() => srv.close());
    await assert.rejects(
      connect(srv.url()),
      (err: unknown) => err instanceof HandshakeError && err.code === 'ERR_CONNECT_FAILED',
    );
  });

  it('hands frames that arrive in the same packet as the 101 to the connection', async (t) => {
    const srv = await RawServer.start({
      handshake: (req) => buildReplyWithFrame(req.headers['sec-websocket-key'] ?? ''),
    });
    t.after(() => srv.close());
    const conn = await connect(srv.url());
    t.after(() => conn.terminate());
    const inbox = clientInbox(conn);
    assert.deepEqual(await inbox.next(), { type: 'text', data: 'early bird' });
  });
});

function buildReplyWithFrame(key: string): Buffer {
  const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), rawFrame({ opcode: OP.text, payload: 'early bird' })]);
}

describe('client over TLS (wss://)', () => {
  let opensslMissing = false;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    opensslMissing = true;
  }
  const name = opensslMissing
    ? 'wss:// with a self-signed certificate (skipped: openssl is not installed, so no certificate can be made)'
    : 'wss:// with a self-signed certificate works with tls.ca or rejectUnauthorized:false, and fails otherwise';
  it(name, { skip: opensslMissing }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(certPath);
    const srv = await RawServer.start({ tls: { key: readFileSync(keyPath), cert } });
    t.after(() => srv.close());

    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(`${w.name}: ${w.message}`);
    };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));

    for (const tls of [{ ca: cert }, { rejectUnauthorized: false }]) {
      const conn = await connect(srv.url('/secure'), { tls });
      t.after(() => conn.terminate());
      const peer = await srv.nextPeer();
      assert.equal(peer.request.path, '/secure');
      echo(conn);
      await peer.send({ opcode: OP.text, payload: 'over tls' });
      const back = await peer.readMessage();
      assert.equal(back.data.toString(), 'over tls');
      assert.deepEqual(peer.maskViolations, []);
    }
    await assert.rejects(connect(srv.url('/secure')), (err: unknown) => {
      assert.ok(err instanceof HandshakeError);
      assert.match(err.message, /self[- ]signed|certificate/i);
      return true;
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(
      warnings.filter((w) => /ServerName|servername/.test(w)),
      [],
      'no warning for setting the TLS servername to an IP address',
    );
  });
});
