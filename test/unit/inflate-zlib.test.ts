// The inflater against node:zlib's deflate: every corpus, size, level, strategy and window size, one-shot and with
// dictionaries, and whole conversations from one persistent sync-flushing stream (RFC 7692 §7.2.2 context takeover).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  CORPORA,
  chatLine,
  corpus,
  deflateMessage,
  drive,
  inflateOnce,
  jsonOfSize,
  newInflater,
  prng,
  StreamDeflater,
  TAIL,
  zlibInflate,
} from './inflate-harness.js';

const C = zlib.constants;
const STRATEGIES = {
  default: C.Z_DEFAULT_STRATEGY,
  filtered: C.Z_FILTERED,
  huffmanOnly: C.Z_HUFFMAN_ONLY,
  rle: C.Z_RLE,
  fixed: C.Z_FIXED,
} as const;
const SIZES = [0, 1, 30, 2048, 65536] as const;

/** Every corpus at once, so one stream has stored, fixed and dynamic blocks to decode. */
function mixed(size: number, seed: number): Buffer {
  const quarter = Math.floor(size / 4);
  return Buffer.concat(CORPORA.map((kind, i) => corpus(kind, i === 3 ? size - 3 * quarter : quarter, seed + i)));
}

describe('inflate: one-shot messages from zlib', () => {
  for (const kind of CORPORA) {
    it(`${kind}: sizes 0 B to 64 KiB, then 1 MiB`, () => {
      const inf = newInflater();
      for (const size of [...SIZES, 1 << 20]) {
        const data = corpus(kind, size, size + 1);
        assert.deepEqual(inflateOnce(inf, deflateMessage(data)), data, `${kind} ${size} B`);
      }
    });
  }

  it('every level 0–9 with every strategy', () => {
    const data = mixed(24_000, 7);
    const inf = newInflater();
    for (let level = 0; level <= 9; level++) {
      for (const [name, strategy] of Object.entries(STRATEGIES)) {
        const payload = deflateMessage(data, { level, strategy });
        assert.deepEqual(inflateOnce(inf, payload), data, `level ${level} ${name}`);
      }
    }
  });

  it('deflate windowBits 9–15, inflated with the same window size', () => {
    const data = mixed(40_000, 9);
    for (let bits = 9; bits <= 15; bits++) {
      for (const level of [1, 6, 9]) {
        const payload = deflateMessage(data, { windowBits: bits, level });
        assert.deepEqual(inflateOnce(newInflater(bits), payload), data, `windowBits ${bits} level ${level}`);
      }
    }
  });

  it('a peer with 8-bit windows: zlib deflates them as 9 bits, which never reach past 250 bytes', () => {
    const data = mixed(10_000, 3);
    assert.deepEqual(inflateOnce(newInflater(8), deflateMessage(data, { windowBits: 9 })), data);
  });

  it('an empty message is the single byte 00 (§7.2.3.6), with or without history', () => {
    const inf = newInflater();
    assert.deepEqual(deflateMessage(Buffer.alloc(0)), Buffer.from([0]));
    assert.equal(inflateOnce(inf, Buffer.from([0])).length, 0);
    const data = jsonOfSize(500, prng(1));
    assert.deepEqual(inflateOnce(inf, deflateMessage(data)), data);
    assert.equal(inflateOnce(inf, Buffer.from([0])).length, 0);
    assert.equal(inf.retainedBytes, 1 << 15);
  });

  it('senders that keep their sync tail, or end with a full or partial flush: as zlib reads them', () => {
    const inf = newInflater();
    for (const flush of [C.Z_SYNC_FLUSH, C.Z_FULL_FLUSH, C.Z_PARTIAL_FLUSH]) {
      for (const size of [0, 1, 30, 5000]) {
        const data = jsonOfSize(size, prng(size + flush));
        const payload = zlib.deflateRawSync(data, { finishFlush: flush });
        assert.deepEqual(zlibInflate(payload), data, 'zlib reads it');
        assert.deepEqual(inflateOnce(inf, payload), data, `flush ${flush}, ${size} B`);
      }
    }
  });

  it('stored, fixed and dynamic blocks mixed in one message', () => {
    const parts = [
      corpus('random', 3000, 1),
      corpus('json', 40, 2),
      corpus('json', 5000, 3),
      corpus('repetitive', 9000, 4),
    ];
    const payload = Buffer.concat([
      zlib.deflateRawSync(parts[0]!, { level: 0, finishFlush: C.Z_SYNC_FLUSH }),
      zlib.deflateRawSync(parts[1]!, { strategy: C.Z_FIXED, finishFlush: C.Z_SYNC_FLUSH }),
      zlib.deflateRawSync(parts[2]!, { finishFlush: C.Z_SYNC_FLUSH }),
      deflateMessage(parts[3]!, { strategy: C.Z_RLE }),
    ]);
    assert.deepEqual(inflateOnce(newInflater(), payload), Buffer.concat(parts));
  });
});

describe('inflate: context takeover', () => {
  it('deflateRawSync with the last 32 KiB as a dictionary, message after message (our own compressor today)', () => {
    const rand = prng(11);
    const inf = newInflater();
    let history = Buffer.alloc(0);
    for (let i = 0; i < 60; i++) {
      const size = [0, 1, 30, 200, 2048, 65536][i % 6]!;
      const data = i % 5 === 4 ? corpus('random', size, i) : jsonOfSize(size, rand);
      const options: zlib.ZlibOptions = { finishFlush: C.Z_SYNC_FLUSH };
      if (history.length > 0) options.dictionary = history;
      const payload = zlib.deflateRawSync(data, options).subarray(0, -4);
      assert.deepEqual(inflateOnce(inf, payload), data, `message ${i}`);
      history = Buffer.concat([history, data]).subarray(-(1 << 15));
    }
  });

  for (const [name, strategy] of Object.entries(STRATEGIES)) {
    it(`one persistent deflate stream (${name}), Z_SYNC_FLUSH per message, tail stripped`, async () => {
      const rand = prng(strategy + 100);
      for (const level of [1, 6, 9]) {
        const deflater = new StreamDeflater({ level, strategy });
        const inf = newInflater();
        for (let i = 0; i < 40; i++) {
          const data = i % 13 === 12 ? corpus('repetitive', 70_000, i) : Buffer.from(i % 7 === 0 ? '' : chatLine(rand));
          assert.deepEqual(inflateOnce(inf, await deflater.compress(data)), data, `level ${level} message ${i}`);
        }
        deflater.close();
      }
    });
  }

  it('persistent streams with windowBits 9–15, each inflated with the negotiated window', async () => {
    for (let bits = 9; bits <= 15; bits++) {
      const rand = prng(bits);
      const deflater = new StreamDeflater({ windowBits: bits, memLevel: 9 });
      const inf = newInflater(bits);
      for (let i = 0; i < 30; i++) {
        const data = i % 10 === 9 ? jsonOfSize(3000, rand) : Buffer.from(chatLine(rand));
        assert.deepEqual(inflateOnce(inf, await deflater.compress(data)), data, `bits ${bits} message ${i}`);
      }
      assert.equal(inf.retainedBytes, 1 << bits);
      deflater.close();
    }
  });

  it('a message ending with a BFINAL block: trailing bytes ignored, the window carries over', () => {
    const inf = newInflater();
    const first = jsonOfSize(5000, prng(5));
    // A complete raw stream (Z_FINISH sets BFINAL), sent with its tail and some garbage after it.
    const finished = Buffer.concat([zlib.deflateRawSync(first), Buffer.from([0xde, 0xad]), TAIL]);
    assert.deepEqual(inflateOnce(inf, finished), first);
    const second = jsonOfSize(800, prng(6));
    const payload = zlib.deflateRawSync(second, { dictionary: first, finishFlush: C.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.deepEqual(inflateOnce(inf, payload), second);
  });

  it('a BFINAL block before the last fragment: need-input until end(), then done', () => {
    const inf = newInflater();
    const data = jsonOfSize(5000, prng(8));
    inf.begin(Number.POSITIVE_INFINITY);
    inf.push(zlib.deflateRawSync(data));
    const out: Buffer[] = [];
    // The last few bytes wait for more input or end(): a symbol may span them.
    assert.equal(
      inf.run(1 << 20, (c) => out.push(c)),
      'need-input',
    );
    const early = Buffer.concat(out);
    assert.ok(early.length > 4000 && data.subarray(0, early.length).equals(early), `${early.length} B early`);
    inf.push(Buffer.from('ignored fragment'));
    inf.end();
    assert.equal(
      inf.run(1 << 20, (c) => out.push(c)),
      'done',
    );
    assert.deepEqual(Buffer.concat(out), data);
  });

  it('without context takeover each message starts with an empty window and nothing is retained', () => {
    const inf = newInflater(15, false);
    const rand = prng(4);
    for (let i = 0; i < 20; i++) {
      const data = i % 4 === 3 ? jsonOfSize(200_000, rand) : Buffer.from(chatLine(rand));
      assert.deepEqual(drive(inf, [deflateMessage(data)], { budget: 50_000 }).out, data);
      assert.equal(inf.retainedBytes, 0);
    }
  });
});
