// Input split anywhere: every split point and byte-by-byte feeding for small messages, random pieces for large ones,
// with run() between pieces so decoding suspends mid-block (mid-symbol, mid-header, mid-stored-block) and resumes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  corpus,
  deflateMessage,
  drive,
  jsonOfSize,
  newInflater,
  prng,
  StreamDeflater,
  splitAt,
} from './inflate-harness.js';

function bytewise(payload: Buffer): Buffer[] {
  return Array.from(payload, (b) => Buffer.of(b));
}

/** Small messages of each block type, and one whose references reach into the previous message. */
function smallCases(): Array<{ name: string; history: Buffer; data: Buffer; payload: Buffer }> {
  const none = Buffer.alloc(0);
  const chat = Buffer.from('{"type":"chat","user":"u42","text":"see you at noon"}');
  const json = jsonOfSize(700, prng(3));
  const history = jsonOfSize(2000, prng(4));
  const echo = Buffer.from(history.subarray(100, 400).toString() + chat.toString());
  return [
    { name: 'empty', history: none, data: none, payload: deflateMessage(none) },
    { name: 'fixed chat line', history: none, data: chat, payload: deflateMessage(chat) },
    { name: 'dynamic 700 B', history: none, data: json, payload: deflateMessage(json) },
    {
      name: 'stored 300 B',
      history: none,
      data: json.subarray(0, 300),
      payload: deflateMessage(json.subarray(0, 300), { level: 0 }),
    },
    {
      name: 'referring to the previous message',
      history,
      data: echo,
      payload: zlib
        .deflateRawSync(echo, { dictionary: history, finishFlush: zlib.constants.Z_SYNC_FLUSH })
        .subarray(0, -4),
    },
  ];
}

describe('inflate: input split anywhere', () => {
  for (const c of smallCases()) {
    it(`${c.name}: every split point, run between the pieces`, () => {
      const inf = newInflater();
      for (let at = 0; at <= c.payload.length; at++) {
        if (c.history.length > 0) drive(inf, [deflateMessage(c.history)]);
        const { out } = drive(inf, splitAt(c.payload, [at]), { runEachPiece: true });
        assert.deepEqual(out, c.data, `split at ${at} of ${c.payload.length}`);
      }
    });

    it(`${c.name}: byte by byte, with and without run() after each byte`, () => {
      const inf = newInflater();
      for (const runEachPiece of [true, false]) {
        if (c.history.length > 0) drive(inf, [deflateMessage(c.history)]);
        assert.deepEqual(drive(inf, bytewise(c.payload), { runEachPiece }).out, c.data);
      }
    });
  }

  it('every pair of split points in a dynamic-block message (a header cut twice)', () => {
    const data = jsonOfSize(120, prng(9));
    const payload = deflateMessage(data);
    const inf = newInflater();
    for (let a = 0; a <= payload.length; a++) {
      for (let b = a; b <= payload.length; b += 3) {
        assert.deepEqual(drive(inf, splitAt(payload, [a, b]), { runEachPiece: true }).out, data, `splits ${a}, ${b}`);
      }
    }
  });

  it('large messages in random pieces and small budgets, message after message on one stream', async () => {
    const seed = 20240601;
    const rand = prng(seed);
    const deflater = new StreamDeflater({ level: 6 });
    const inf = newInflater();
    const kinds = ['json', 'random', 'repetitive', 'text'] as const;
    for (let i = 0; i < 12; i++) {
      const size = i % 3 === 2 ? 1 << 20 : 65536;
      const data = corpus(kinds[i % 4]!, size, seed + i);
      const payload = await deflater.compress(data);
      const points = Array.from({ length: 1 + Math.floor(rand() * 60) }, () =>
        Math.floor(rand() * payload.length),
      ).sort((x, y) => x - y);
      const budget = [1000, 65536, 300_000, 1 << 24][i % 4]!;
      const { out } = drive(inf, splitAt(payload, points), { runEachPiece: true, budget });
      assert.ok(
        out.equals(data),
        `seed ${seed} message ${i} (${kinds[i % 4]}, ${size} B) split at ${points.join(',')}`,
      );
    }
    deflater.close();
  });

  it('a stored block spanning many pieces (incompressible data at level 0)', () => {
    const data = corpus('random', 200_000, 5);
    const payload = deflateMessage(data, { level: 0 });
    const points = Array.from({ length: 300 }, (_, i) => Math.floor((i * payload.length) / 300) + (i % 7));
    assert.deepEqual(drive(newInflater(), splitAt(payload, points), { runEachPiece: true, budget: 10_000 }).out, data);
  });
});
