// The inflater's bounds: the output limit (exact), budgets per call (bounded work, also for empty-block floods),
// output chunks (exact-size, never touched again), retained memory, option validation and misuse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { InflateError, InflateLimitError, Inflater } from '../../src/extensions/inflate.js';
import { TABLE_SET_BYTES } from '../../src/extensions/inflate-tables.js';
import {
  BitWriter,
  BUDGET_SLACK,
  corpus,
  deflateMessage,
  drive,
  inflateOnce,
  jsonOfSize,
  newInflater,
  prng,
} from './inflate-harness.js';

const MiB = 1 << 20;

describe('inflate: output limit', () => {
  const cases = {
    'ending in a literal': deflateMessage(Buffer.from('abcdefgh')),
    'ending in a match': deflateMessage(Buffer.from('abcabcabcabcabcabcabc')),
    'a stored block': deflateMessage(corpus('random', 5000, 1), { level: 0 }),
    'dynamic blocks': deflateMessage(jsonOfSize(100_000, prng(2))),
  };
  for (const [name, payload] of Object.entries(cases)) {
    it(`${name}: exactly at the limit passes, one under it fails`, () => {
      const size = inflateOnce(newInflater(), payload).length;
      assert.equal(inflateOnce(newInflater(), payload, { maxOutput: size }).length, size);
      const delivered: number[] = [];
      assert.throws(
        () => drive(newInflater(), [payload], { maxOutput: size - 1, onRun: (b) => delivered.push(b) }),
        (err: unknown) => err instanceof InflateLimitError && err.limit === size - 1,
      );
      assert.equal(delivered.length, 0, 'the failing call delivers nothing');
    });
  }

  it('a limit of 0 admits only empty messages', () => {
    assert.equal(inflateOnce(newInflater(), Buffer.from([0]), { maxOutput: 0 }).length, 0);
    assert.throws(
      () => inflateOnce(newInflater(), deflateMessage(Buffer.from('x')), { maxOutput: 0 }),
      InflateLimitError,
    );
  });

  it('a 64 MiB bomb stops at a 1 MiB limit, having delivered at most the limit', () => {
    // 64 sync-flushed 1 MiB runs of zeros, each referring only to itself, make one valid 64 MiB message.
    const bomb = Buffer.concat(
      new Array(64).fill(zlib.deflateRawSync(Buffer.alloc(MiB), { finishFlush: zlib.constants.Z_SYNC_FLUSH })),
    );
    assert.equal(inflateOnce(newInflater(), bomb).length, 64 * MiB);
    let delivered = 0;
    assert.throws(
      () => drive(newInflater(), [bomb], { maxOutput: MiB, budget: 256 * 1024, onRun: (b) => (delivered += b) }),
      InflateLimitError,
    );
    assert.ok(delivered <= MiB, `${delivered} B delivered`);
  });

  it('a limit far above the output is not reached (fractional and Infinity limits)', () => {
    const data = jsonOfSize(3000, prng(3));
    assert.deepEqual(inflateOnce(newInflater(), deflateMessage(data), { maxOutput: 3000.9 }), data);
    assert.deepEqual(inflateOnce(newInflater(), deflateMessage(data), { maxOutput: Number.POSITIVE_INFINITY }), data);
  });
});

describe('inflate: budgets', () => {
  const corpora = {
    zeros: Buffer.alloc(4 * MiB),
    text: corpus('text', 2 * MiB, 4),
    stored: corpus('random', MiB, 5),
    repetitive: corpus('repetitive', 2 * MiB, 6),
  };
  for (const [name, data] of Object.entries(corpora)) {
    it(`${name}: one call with budget B delivers at most B + ${BUDGET_SLACK} bytes`, () => {
      for (const budget of [1, 100, 4096, 65536, 1_000_000]) {
        // Tiny budgets mean a call per byte or match: a smaller message keeps the test quick.
        const message = budget < 4096 ? data.subarray(0, 40_000) : data;
        const payload = deflateMessage(message, { level: name === 'stored' ? 0 : 6 });
        let calls = 0;
        const { out } = drive(newInflater(), [payload], {
          budget,
          onRun: (bytes) => {
            calls++;
            assert.ok(bytes <= budget + BUDGET_SLACK, `${bytes} B with budget ${budget}`);
          },
        });
        assert.ok(out.equals(message), `budget ${budget}`);
        assert.ok(calls >= Math.floor(message.length / (budget + BUDGET_SLACK)), `${calls} calls`);
      }
    });
  }

  it('a flood of empty blocks stops on the budget too (block headers are charged)', () => {
    // 20,000 empty fixed-Huffman blocks (header 010, end-of-block 0000000): 10 bits each, no output.
    const w = new BitWriter();
    for (let i = 0; i < 20_000; i++) w.bits(0b010, 3).fixedSymbol(256);
    w.bits(0b000, 3); // the sync flush's empty stored block, whose LEN/NLEN the tail supplies
    const inf = newInflater();
    inf.begin(Number.POSITIVE_INFINITY);
    inf.push(w.done());
    inf.end();
    let calls = 0;
    while (inf.run(64 * 100, () => assert.fail('no output expected')) === 'budget') calls++;
    assert.ok(calls >= 150 && calls <= 250, `${calls} calls`);
  });
});

describe('inflate: output chunks and memory', () => {
  it('a small message comes out as one Buffer of exactly its size', () => {
    const inf = newInflater();
    for (const size of [1, 30, 2048, 30_000]) {
      const data = jsonOfSize(size, prng(size));
      const { chunks } = drive(inf, [deflateMessage(data)]);
      assert.equal(chunks.length, 1);
      assert.equal(chunks[0]!.length, size);
      // A small chunk may be a slice of node's shared allocation pool (Buffer.poolSize: 8 KiB on Node 20, 64 KiB
      // plus alignment on Node 26), never of the inflater's work buffer or of a block sized for a larger message.
      assert.ok(chunks[0]!.buffer.byteLength <= Math.max(size, 2 * Buffer.poolSize), 'no oversized backing store');
    }
  });

  it('chunks handed over are never written again, even as later messages decode', () => {
    const inf = newInflater();
    const kept: Array<{ chunks: Buffer[]; copy: Buffer }> = [];
    for (let i = 0; i < 8; i++) {
      const data = i % 2 === 0 ? corpus('json', 300_000, i) : corpus('repetitive', 40_000, i);
      const { chunks } = drive(inf, [deflateMessage(data)], { budget: 70_000 });
      assert.ok(Buffer.concat(chunks).equals(data));
      kept.push({ chunks, copy: Buffer.concat(chunks) });
    }
    for (const { chunks, copy } of kept) assert.ok(Buffer.concat(chunks).equals(copy));
  });

  it('retainedBytes: nothing before the first message, the window after, tables only mid dynamic block', () => {
    const inf = newInflater(12);
    assert.equal(inf.retainedBytes, 0);
    inflateOnce(inf, deflateMessage(Buffer.from('hello')));
    assert.equal(inf.retainedBytes, 1 << 12);
    const payload = deflateMessage(jsonOfSize(20_000, prng(7)), { windowBits: 12 });
    inf.begin(Number.POSITIVE_INFINITY);
    inf.push(payload.subarray(0, 2000));
    assert.equal(
      inf.run(1 << 20, () => {}),
      'need-input',
    );
    assert.equal(inf.retainedBytes, (1 << 12) + TABLE_SET_BYTES);
    inf.push(payload.subarray(2000));
    inf.end();
    assert.equal(
      inf.run(1 << 20, () => {}),
      'done',
    );
    assert.equal(inf.retainedBytes, 1 << 12);
    const stateless = newInflater(15, false);
    drive(stateless, [payload.subarray(0, 1000), payload.subarray(1000)], { runEachPiece: true });
    assert.equal(stateless.retainedBytes, 0);
  });
});

describe('inflate: options and misuse', () => {
  it('bad options throw, naming the option', () => {
    for (const windowBits of [7, 16, 12.5, Number.NaN]) {
      assert.throws(() => new Inflater({ windowBits }), { name: 'RangeError', message: /windowBits/ });
    }
    assert.throws(() => new Inflater({ contextTakeover: 'yes' as unknown as boolean }), {
      name: 'TypeError',
      message: /contextTakeover/,
    });
    const inf = new Inflater();
    assert.equal(inf.windowBits, 15);
    assert.equal(inf.contextTakeover, true);
    for (const maxOutput of [-1, Number.NaN, '5' as unknown as number]) {
      assert.throws(() => inf.begin(maxOutput), { name: 'RangeError', message: /maxOutput/ });
    }
    inf.begin(10);
    for (const budget of [0, -5, 1.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => inf.run(budget, () => {}), { name: 'RangeError', message: /budget/ });
    }
  });

  it('calls out of order throw a plain Error and change nothing', () => {
    const inf = new Inflater();
    assert.throws(() => inf.push(Buffer.from([0])), /begin\(\) a message first/);
    assert.throws(() => inf.end(), /begin\(\) a message first/);
    assert.throws(() => inf.run(10, () => {}), /begin\(\) a message first/);
    inf.begin(100);
    assert.throws(() => inf.begin(100), /previous message is not finished/);
    inf.end();
    assert.throws(() => inf.end(), /called twice/);
    assert.equal(
      inf.run(10, () => {}),
      'done',
    );
  });

  it('onChunk may not call back into the inflater delivering to it', () => {
    const inf = newInflater();
    inf.begin(100);
    inf.push(deflateMessage(Buffer.from('hello')));
    inf.end();
    assert.throws(() => inf.run(100, () => inf.push(Buffer.from([0]))), /called from its own onChunk/);
  });

  it('a compressed message with no bytes at all inflates to nothing, as zlib reads it', () => {
    const inf = newInflater();
    assert.equal(drive(inf, []).out.length, 0);
    assert.equal(drive(inf, [Buffer.alloc(0)]).out.length, 0);
  });

  it('after a data error every call throws InflateError', () => {
    const inf = newInflater();
    assert.throws(() => inflateOnce(inf, Buffer.from([0xff, 0xff])), InflateError);
    assert.throws(() => inf.begin(100), /failed on an earlier message/);
    assert.equal(inf.retainedBytes, 0);
  });
});
