// Shared by the inflate*.test.ts files: driving an Inflater through a message, zlib references (one-shot with a
// dictionary, and one persistent sync-flushing deflate stream as browsers and ws keep), corpora and a bit writer.
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { Inflater, type InflateStatus } from '../../src/extensions/inflate.js';
import { prng, textOfSize } from '../helpers/deflate-peer.js';

export { prng };
export const SYNC = zlib.constants.Z_SYNC_FLUSH;
export const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** The biggest a single run() may overshoot its budget: a match is never split. */
export const BUDGET_SLACK = 257;

export interface DriveOptions {
  maxOutput?: number;
  budget?: number;
  /** Call run() after each piece (exercising suspension), not only after end(). */
  runEachPiece?: boolean;
  /** Called with each run()'s output byte count, to check budgets. */
  onRun?: (bytes: number, status: InflateStatus) => void;
}

/** One message through `inf`: pieces pushed in order, then end(); returns the output and the chunks it came in. */
export function drive(
  inf: Inflater,
  pieces: readonly Uint8Array[],
  opts: DriveOptions = {},
): { out: Buffer; chunks: Buffer[] } {
  const { maxOutput = Number.POSITIVE_INFINITY, budget = 1 << 24, runEachPiece = false } = opts;
  const chunks: Buffer[] = [];
  let bytes = 0;
  const onChunk = (c: Buffer): void => {
    chunks.push(c);
    bytes += c.length;
  };
  const runOnce = (): InflateStatus => {
    bytes = 0;
    const status = inf.run(budget, onChunk);
    opts.onRun?.(bytes, status);
    return status;
  };
  inf.begin(maxOutput);
  for (const piece of pieces) {
    inf.push(piece);
    if (runEachPiece) while (runOnce() === 'budget');
  }
  inf.end();
  let status: InflateStatus;
  do status = runOnce();
  while (status === 'budget');
  assert.equal(status, 'done');
  return { out: Buffer.concat(chunks), chunks };
}

/** `payload` cut at the given ascending offsets. */
export function splitAt(payload: Buffer, points: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    pieces.push(payload.subarray(from, p));
    from = p;
  }
  pieces.push(payload.subarray(from));
  return pieces;
}

export function inflateOnce(inf: Inflater, payload: Uint8Array, opts: DriveOptions = {}): Buffer {
  return drive(inf, [payload], opts).out;
}

/** What permessage-deflate does today: one-shot zlib primed with the retained window. */
export function zlibInflate(payload: Uint8Array, dictionary?: Buffer, maxOutputLength = 2 ** 31 - 1): Buffer {
  const options: zlib.ZlibOptions = { finishFlush: SYNC, windowBits: 15, maxOutputLength };
  if (dictionary !== undefined && dictionary.length > 0) options.dictionary = dictionary;
  return zlib.inflateRawSync(Buffer.concat([payload, TAIL]), options);
}

/** §7.2.1 without context: sync flush, tail removed. */
export function deflateMessage(data: Uint8Array, options: zlib.ZlibOptions = {}): Buffer {
  const out = zlib.deflateRawSync(data, { ...options, finishFlush: SYNC });
  assert.ok(out.subarray(-4).equals(TAIL));
  return out.subarray(0, -4);
}

/** One long-lived raw deflate stream, a message per Z_SYNC_FLUSH with the tail stripped (context takeover). */
export class StreamDeflater {
  readonly #stream: zlib.DeflateRaw;
  constructor(options: zlib.ZlibOptions = {}) {
    this.#stream = zlib.createDeflateRaw(options);
  }

  compress(data: Uint8Array): Promise<Buffer> {
    const stream = this.#stream;
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      const onData = (c: Buffer): void => {
        parts.push(c);
      };
      stream.on('data', onData);
      stream.once('error', reject);
      stream.write(data);
      stream.flush(SYNC, () => {
        stream.off('data', onData);
        stream.off('error', reject);
        const out = Buffer.concat(parts);
        if (!out.subarray(-4).equals(TAIL)) reject(new Error('sync flush without the 00 00 ff ff tail'));
        else resolve(out.subarray(0, -4));
      });
    });
  }

  close(): void {
    this.#stream.close();
  }
}

export function randomBytes(size: number, rand: () => number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

export function chatLine(rand: () => number): string {
  const words = ['hi', 'hello', 'lunch', 'at', 'noon', 'ok', '👍', 'déjà', 'vu', 'see', 'you', 'there'];
  const n = 1 + Math.floor(rand() * 6);
  const text = Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');
  return JSON.stringify({
    type: 'chat',
    user: `u${Math.floor(rand() * 500)}`,
    text,
    ts: 1.7e12 + Math.floor(rand() * 1e9),
  });
}

export function jsonOfSize(size: number, rand: () => number): Buffer {
  const lines: string[] = [];
  let bytes = 0;
  while (bytes < size) {
    const l = chatLine(rand);
    lines.push(l);
    bytes += Buffer.byteLength(l) + 1;
  }
  return Buffer.from(lines.join('\n')).subarray(0, size);
}

/** Long runs and short periods: what a bomb is made of, and what overlapping matches copy. */
export function repetitive(size: number, rand: () => number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let i = 0;
  while (i < size) {
    const period = 1 + Math.floor(rand() * 7);
    const run = Math.min(size - i, 1 + Math.floor(rand() * 2000));
    for (let k = 0; k < run; k++) b[i + k] = k < period ? Math.floor(rand() * 4) : b[i + k - period]!;
    i += run;
  }
  return b;
}

export type Corpus = 'random' | 'text' | 'json' | 'repetitive';
export const CORPORA: readonly Corpus[] = ['random', 'text', 'json', 'repetitive'];

export function corpus(kind: Corpus, size: number, seed: number): Buffer {
  const rand = prng(seed);
  if (kind === 'random') return randomBytes(size, rand);
  if (kind === 'text') return Buffer.from(textOfSize(size, rand));
  if (kind === 'json') return jsonOfSize(size, rand);
  return repetitive(size, rand);
}

/** Writes a DEFLATE bit stream by hand: fields least significant bit first, Huffman codes most significant first. */
export class BitWriter {
  readonly #bytes: number[] = [];
  #acc = 0;
  #n = 0;

  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) {
      this.#acc |= ((value >>> i) & 1) << this.#n;
      if (++this.#n === 8) this.#flushByte();
    }
    return this;
  }

  /** A Huffman code of `len` bits (sent from its most significant bit). */
  code(code: number, len: number): this {
    for (let i = len - 1; i >= 0; i--) this.bits((code >>> i) & 1, 1);
    return this;
  }

  /** A fixed-Huffman literal/length symbol (RFC 1951 §3.2.6). */
  fixedSymbol(sym: number): this {
    if (sym < 144) return this.code(0x30 + sym, 8);
    if (sym < 256) return this.code(0x190 + sym - 144, 9);
    if (sym < 280) return this.code(sym - 256, 7);
    return this.code(0xc0 + sym - 280, 8);
  }

  align(): this {
    if (this.#n > 0) this.#flushByte();
    return this;
  }

  bytes(...values: number[]): this {
    this.align();
    this.#bytes.push(...values);
    return this;
  }

  done(): Buffer {
    this.align();
    return Buffer.from(this.#bytes);
  }

  #flushByte(): void {
    this.#bytes.push(this.#acc);
    this.#acc = 0;
    this.#n = 0;
  }
}

export function newInflater(windowBits = 15, contextTakeover = true): Inflater {
  return new Inflater({ windowBits, contextTakeover });
}
