// Invalid DEFLATE: hand-made streams for each fault (RFC 1951 §3.2.3–§3.2.7), each checked against zlib's verdict,
// then seeded random mutations of valid messages and random garbage, where the inflater must agree with zlib.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { InflateError, InflateLimitError } from '../../src/extensions/inflate.js';
import {
  BitWriter,
  corpus,
  deflateMessage,
  drive,
  inflateOnce,
  jsonOfSize,
  newInflater,
  prng,
  SYNC,
  splitAt,
  zlibInflate,
} from './inflate-harness.js';

const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15] as const;
/** A complete code-length code: 0..15 of 4 bits, no repeat codes. */
const PLAIN_CL = [...Array(16).fill(4), 0, 0, 0] as number[];
/** A complete code-length code with the repeat codes: 0..12 of 4 bits, 13..18 of 5. */
const REPEAT_CL = [...Array(13).fill(4), ...Array(6).fill(5)] as number[];

/** Canonical Huffman codes for `lens` (RFC 1951 §3.2.2); -1 for unused symbols. */
function canonical(lens: readonly number[]): number[] {
  const count = new Array<number>(16).fill(0);
  for (const l of lens) if (l > 0) count[l]!++;
  const next = new Array<number>(16).fill(0);
  for (let bits = 1, code = 0; bits < 16; bits++) {
    code = (code + count[bits - 1]!) << 1;
    next[bits] = code;
  }
  return lens.map((l) => (l > 0 ? next[l]!++ : -1));
}

interface Dynamic {
  lit: number[];
  dist: number[];
}

/**
 * Writes a dynamic block header: `litLens`/`distLens` sent one code-length symbol each, or `symbols` (code-length
 * symbol, extra value, extra bits) verbatim. Returns the codes, for writing the block's data.
 */
function dynamicHeader(
  w: BitWriter,
  litLens: readonly number[],
  distLens: readonly number[],
  options: {
    final?: boolean;
    cl?: readonly number[];
    symbols?: ReadonlyArray<readonly [number, number, number]>;
    counts?: [number, number];
  } = {},
): Dynamic {
  const cl = options.cl ?? PLAIN_CL;
  const [nlen, ndist] = options.counts ?? [litLens.length, distLens.length];
  w.bits(options.final === false ? 0 : 1, 1)
    .bits(2, 2)
    .bits(nlen - 257, 5)
    .bits(ndist - 1, 5)
    .bits(15, 4);
  for (const s of ORDER) w.bits(cl[s]!, 3);
  const clCodes = canonical(cl);
  const symbols = options.symbols ?? [...litLens, ...distLens].map((l) => [l, 0, 0] as const);
  for (const [sym, extra, n] of symbols) {
    w.code(clCodes[sym]!, cl[sym]!);
    if (n > 0) w.bits(extra, n);
  }
  return { lit: canonical(litLens), dist: canonical(distLens) };
}

/** Literal/length lengths: the given symbols with their lengths, every other symbol unused, 286 entries. */
function lengths(n: number, entries: Record<number, number>): number[] {
  const lens = new Array<number>(n).fill(0);
  for (const [sym, len] of Object.entries(entries)) lens[Number(sym)] = len;
  return lens;
}

/** The stream must fail in zlib as in the inflater, with the fault named. */
function bothReject(stream: Buffer, fault: RegExp, history?: Buffer): void {
  assert.throws(() => zlibInflate(stream, history), 'zlib rejects it too');
  const inf = newInflater();
  if (history !== undefined) inflateOnce(inf, deflateMessage(history));
  assert.throws(
    () => inflateOnce(inf, stream),
    (err: unknown) => err instanceof InflateError && fault.test(err.message),
  );
}

describe('inflate: hand-made valid streams', () => {
  it('a literal/length code of 270 codes of 11–15 bits decodes through sub-tables (1,304 table entries)', () => {
    // Kraft-complete: 45 × (2^-11 + 2^-12 + 2^-13 + 2^-14 + 2·2^-15) = 45·2^-10, and 7 shorter codes give the rest.
    const lens = [...Array.from({ length: 45 }, () => [11, 12, 13, 14, 15, 15]).flat(), 1, 2, 3, 4, 6, 9, 10];
    const rand = prng(45);
    for (let i = lens.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [lens[i], lens[j]] = [lens[j]!, lens[i]!];
    }
    const w = new BitWriter();
    const { lit } = dynamicHeader(w, lens, [1]);
    const order = Array.from({ length: 256 }, (_, i) => (i * 97) % 256);
    for (const b of order) w.code(lit[b]!, lens[b]!);
    w.code(lit[256]!, lens[256]!).bits(0, 3);
    const stream = w.done();
    assert.deepEqual(zlibInflate(stream), Buffer.from(order));
    assert.deepEqual(inflateOnce(newInflater(), stream), Buffer.from(order));
  });
});

describe('inflate: hand-made invalid streams', () => {
  it('block type 3', () => {
    bothReject(new BitWriter().bits(1, 1).bits(3, 2).done(), /block type 3/);
  });

  it('stored block whose NLEN is not the complement of LEN', () => {
    bothReject(
      new BitWriter().bits(1, 1).bits(0, 2).bytes(5, 0, 0, 0, 1, 2, 3, 4, 5).done(),
      /LEN 5 is not the complement/,
    );
  });

  it('code-length code over-subscribed, incomplete, or empty', () => {
    const over = new BitWriter().bits(1, 1).bits(2, 2).bits(0, 5).bits(0, 5).bits(15, 4);
    for (let i = 0; i < 19; i++) over.bits(1, 3);
    bothReject(over.done(), /code lengths code: over-subscribed/);
    const incomplete = new BitWriter().bits(1, 1).bits(2, 2).bits(0, 5).bits(0, 5).bits(0, 4).bits(2, 3).bits(2, 3);
    bothReject(incomplete.bits(0, 6).done(), /code lengths code: incomplete/);
    // zlib reads each of the 258 lengths as a 1-bit 0, then finds no end-of-block code; it needs the bits to get there.
    const empty = new BitWriter().bits(1, 1).bits(2, 2).bits(0, 5).bits(0, 5).bits(15, 4).bits(0, 57);
    bothReject(empty.bytes(...new Array(40).fill(0)).done(), /no end-of-block code/);
  });

  it('literal/length code over-subscribed or incomplete', () => {
    const over = new BitWriter();
    dynamicHeader(over, new Array(286).fill(8), [1]);
    bothReject(over.done(), /literal\/length code: over-subscribed/);
    const incomplete = new BitWriter();
    dynamicHeader(incomplete, lengths(257, { 97: 2, 256: 2 }), [1]);
    bothReject(incomplete.done(), /literal\/length code: incomplete/);
  });

  it('distance code over-subscribed or incomplete (more than one code)', () => {
    const lit = lengths(258, { 97: 1, 256: 2, 257: 2 });
    const over = new BitWriter();
    dynamicHeader(over, lit, [1, 1, 1]);
    bothReject(over.done(), /distance code: over-subscribed/);
    const incomplete = new BitWriter();
    dynamicHeader(incomplete, lit, [2, 2]);
    bothReject(incomplete.done(), /distance code: incomplete/);
  });

  it('a single distance code of length 1 is accepted, its unused pattern is not (as zlib)', () => {
    for (const [distBit, ok] of [
      [0, true],
      [1, false],
    ] as const) {
      const w = new BitWriter();
      const { lit, dist } = dynamicHeader(w, lengths(258, { 97: 1, 256: 2, 257: 2 }), [1]);
      w.code(lit[97]!, 1).code(lit[257]!, 2).bits(distBit, 1).code(lit[256]!, 2).bits(0, 3);
      void dist;
      const stream = w.done();
      if (ok) {
        assert.equal(zlibInflate(stream).toString(), 'aaaa');
        assert.equal(inflateOnce(newInflater(), stream).toString(), 'aaaa');
      } else {
        bothReject(stream, /Invalid distance code/);
      }
    }
  });

  it('an incomplete literal/length code of one code: its unused pattern is an invalid code', () => {
    const w = new BitWriter();
    dynamicHeader(w, lengths(257, { 256: 1 }), [0]);
    bothReject(w.bits(1, 1).done(), /Invalid literal\/length code/);
  });

  it('fixed literal/length symbols 286 and 287, distance symbols 30 and 31', () => {
    for (const sym of [286, 287]) {
      bothReject(
        new BitWriter().bits(1, 1).bits(1, 2).fixedSymbol(97).fixedSymbol(sym).done(),
        /Invalid literal\/length code/,
      );
    }
    for (const d of [30, 31]) {
      const w = new BitWriter().bits(1, 1).bits(1, 2).fixedSymbol(97).fixedSymbol(257).code(d, 5);
      bothReject(w.done(), /Invalid distance code/);
    }
  });

  it('a distance further back than the history (none, then a 100-byte previous message)', () => {
    bothReject(new BitWriter().bits(1, 1).bits(1, 2).fixedSymbol(257).code(0, 5).done(), /too far back/);
    const history = corpus('json', 100, 1);
    // Distance code 13 is 97..128: 97 + 3 = 100 reaches the first byte of history, 101 goes one further.
    const stream = (extra: number): Buffer =>
      new BitWriter()
        .bits(1, 1)
        .bits(1, 2)
        .fixedSymbol(257)
        .code(13, 5)
        .bits(extra, 5)
        .fixedSymbol(256)
        .bits(0, 3)
        .done();
    const inf = newInflater();
    inflateOnce(inf, deflateMessage(history));
    assert.deepEqual(inflateOnce(inf, stream(3)), history.subarray(0, 3));
    assert.deepEqual(zlibInflate(stream(3), history), history.subarray(0, 3));
    bothReject(stream(4), /too far back/, history);
  });

  it('a distance beyond the negotiated window is rejected even inside one message (zlib would take it)', () => {
    const data = corpus('json', 3000, 2);
    // Distance 600 in a message inflated with a 512-byte window: fixed block, literals then length 3 distance 600.
    const w = new BitWriter().bits(1, 1).bits(1, 2);
    for (const b of data.subarray(0, 1000)) w.fixedSymbol(b);
    w.fixedSymbol(257)
      .code(18, 5)
      .bits(600 - 513, 8)
      .fixedSymbol(256);
    const stream = w.done();
    assert.equal(zlibInflate(stream).length, 1003, 'zlib (windowBits 15) accepts it');
    assert.equal(inflateOnce(newInflater(15), stream).length, 1003);
    assert.throws(() => inflateOnce(newInflater(9), stream), /distance 600: too far back/);
  });

  it('repeat code 16 with no previous length; a repeat past the last length', () => {
    const first = new BitWriter();
    dynamicHeader(first, [], [], { cl: REPEAT_CL, counts: [257, 1], symbols: [[16, 0, 2]] });
    bothReject(first.bits(0, 64).done(), /code 16 repeats a length with no previous one/);
    const past = new BitWriter();
    const symbols = [...Array(2).fill([18, 127, 7]), [8, 0, 0], [18, 127, 7]] as Array<[number, number, number]>;
    dynamicHeader(past, [], [], { cl: REPEAT_CL, counts: [257, 1], symbols });
    bothReject(past.bits(0, 64).done(), /runs past the last length/);
  });

  it('no end-of-block code among the literal/length lengths', () => {
    const w = new BitWriter();
    dynamicHeader(w, lengths(257, { 97: 1, 98: 1 }), [1]);
    bothReject(w.bits(0, 16).done(), /no end-of-block code/);
  });

  it('more than 286 literal/length or 30 distance codes', () => {
    for (const [nlen, ndist] of [
      [287, 1],
      [288, 1],
      [257, 31],
      [257, 32],
    ] as const) {
      const w = new BitWriter()
        .bits(1, 1)
        .bits(2, 2)
        .bits(nlen - 257, 5)
        .bits(ndist - 1, 5)
        .bits(0, 4);
      bothReject(w.bits(0, 64).done(), /at most 286, 30/);
    }
  });

  it('a message cut mid-block fails (zlib may return what it decoded: a documented difference)', () => {
    const data = jsonOfSize(4000, prng(3));
    const payload = deflateMessage(data);
    let zlibAccepted = 0;
    for (let cut = 1; cut < payload.length; cut += 7) {
      try {
        const partial = zlibInflate(payload.subarray(0, cut));
        assert.ok(data.subarray(0, partial.length).equals(partial));
        zlibAccepted++;
      } catch {
        // The appended tail read as data can also be invalid.
      }
      // Mostly 'ends in the middle of a block'; a cut header can also make the appended tail an invalid code.
      assert.throws(() => inflateOnce(newInflater(), payload.subarray(0, cut)), InflateError);
    }
    assert.ok(zlibAccepted > 0);
  });
});

type Verdict = { ok: true; out: Buffer } | { ok: false; tooBig: boolean; truncated: boolean; message: string };
const LIMIT = 1 << 20;

const compressedHistory = new WeakMap<Buffer, Buffer>();

function ours(stream: Buffer, history: Buffer, pieces: number, rand: () => number): Verdict {
  const inf = newInflater();
  if (history.length > 0) {
    const payload = compressedHistory.get(history) ?? deflateMessage(history);
    compressedHistory.set(history, payload);
    inflateOnce(inf, payload);
  }
  const points = Array.from({ length: pieces }, () => Math.floor(rand() * (stream.length + 1))).sort((a, b) => a - b);
  const parts = splitAt(stream, points);
  try {
    return {
      ok: true,
      out: drive(inf, parts, { maxOutput: LIMIT, budget: 1 + Math.floor(rand() * 100_000), runEachPiece: true }).out,
    };
  } catch (err) {
    if (err instanceof InflateLimitError) return { ok: false, tooBig: true, truncated: false, message: err.message };
    if (!(err instanceof InflateError)) throw err;
    return {
      ok: false,
      tooBig: false,
      truncated: /ends in the middle of a block/.test(err.message),
      message: err.message,
    };
  }
}

function viaZlib(stream: Buffer, history: Buffer): Verdict {
  try {
    return { ok: true, out: zlibInflate(stream, history, LIMIT) };
  } catch (err) {
    const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    return { ok: false, tooBig, truncated: false, message: (err as Error).message };
  }
}

/** Compares verdicts; returns whether this was the documented difference (zlib accepting a cut-short stream). */
function agree(stream: Buffer, history: Buffer, rand: () => number, where: string): boolean {
  const z = viaZlib(stream, history);
  const a = ours(stream, history, 0, rand);
  const b = ours(stream, history, 1 + Math.floor(rand() * 6), rand);
  assert.deepEqual(b, a, `${where}: the verdict does not depend on how the input is split`);
  if (z.ok && a.ok) {
    assert.ok(a.out.equals(z.out), `${where}: same bytes as zlib`);
    return false;
  }
  if (!z.ok) {
    assert.equal(a.ok, false, `${where}: zlib rejects it, so must we`);
    return false;
  }
  // zlib accepted: we may only reject a stream that ends mid-block, or one whose output exceeds the limit earlier
  // than zlib's 64 KiB output steps notice.
  assert.ok(
    !a.ok && (a.truncated || a.tooBig),
    `${where}: zlib accepts it (${z.out.length} B), we rejected it: ${a.ok ? '' : a.message}; stream ${stream.toString('hex')}`,
  );
  return true;
}

describe('inflate: random corruption agrees with zlib', () => {
  it('thousands of mutations of valid messages (seeded)', () => {
    const seed = Number(process.env.INFLATE_FUZZ_SEED ?? 0x5eed);
    const rand = prng(seed);
    const history = jsonOfSize(3000, prng(seed + 1));
    const bases = [
      deflateMessage(Buffer.from('{"type":"chat","text":"hello"}')),
      deflateMessage(jsonOfSize(1500, prng(2))),
      deflateMessage(corpus('random', 400, 3), { level: 0 }),
      deflateMessage(corpus('repetitive', 3000, 4), { strategy: zlib.constants.Z_RLE }),
      zlib.deflateRawSync(jsonOfSize(800, prng(5))),
      zlib.deflateRawSync(jsonOfSize(900, prng(6)), { dictionary: history, finishFlush: SYNC }).subarray(0, -4),
      Buffer.concat([deflateMessage(corpus('json', 200, 7), { strategy: zlib.constants.Z_FIXED }), Buffer.from([0])]),
    ];
    let differences = 0;
    const iterations = 3000;
    for (let i = 0; i < iterations; i++) {
      const base = bases[i % bases.length]!;
      let stream = Buffer.from(base);
      for (let m = 1 + Math.floor(rand() * 3); m > 0; m--) {
        const at = Math.floor(rand() * stream.length);
        const kind = rand();
        if (kind < 0.5) stream[at] = stream[at]! ^ (1 << Math.floor(rand() * 8));
        else if (kind < 0.75) stream[at] = Math.floor(rand() * 256);
        else if (kind < 0.85) stream = stream.subarray(0, at);
        else if (kind < 0.93)
          stream = Buffer.concat([stream.subarray(0, at), Buffer.of(Math.floor(rand() * 256)), stream.subarray(at)]);
        else stream = Buffer.concat([stream.subarray(0, at), stream.subarray(at + 1)]);
      }
      if (agree(stream, history, rand, `seed ${seed} iteration ${i}`)) differences++;
    }
    // Most accepted-by-zlib-only cases are cut-short streams; far from all mutations.
    assert.ok(differences < iterations / 3, `${differences} documented differences`);
  });

  it('random garbage never throws anything but InflateError and agrees with zlib (seeded)', () => {
    const seed = Number(process.env.INFLATE_FUZZ_SEED ?? 0xbad);
    const rand = prng(seed);
    for (let i = 0; i < 3000; i++) {
      const stream = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      // Steer a third towards fixed and dynamic headers, which garbage otherwise rarely reaches.
      if (stream.length > 0 && i % 3 !== 0) stream[0] = (stream[0]! & ~6) | (i % 3 === 1 ? 2 : 4);
      agree(stream, Buffer.alloc(0), rand, `seed ${seed} iteration ${i}`);
    }
  });
});
