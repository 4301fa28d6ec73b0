// The inflater's working state shared by its parts: the compressed input (a queue of pushed chunks read through a
// 32-bit bit buffer, RFC 1951 §3.1.1 bit order), the output buffer being filled, and the current block's tables.
import { SYNC_TAIL } from '../protocol/constants.js';
import { InflateError } from './inflate-errors.js';
import type { SlidingWindow } from './inflate-window.js';

/*
 * Internal buffers are Buffers, like the pushed chunks, so the decode loop sees one kind of array and stays
 * monomorphic (a Uint8Array among Buffers deoptimized it: measured).
 */
const EMPTY = Buffer.alloc(0);
/** The most input a dynamic block header can take: 14 + 19·3 bits, then 316 code lengths of at most 7 bits. */
export const MAX_HEADER_BYTES = 320;
/**
 * Zero bytes after the message's last real byte, so decoding near the end needs no bounds checks. Reading past the
 * real end shows as consumed bits beyond it (`overran`); the padding covers the largest read (a block header).
 */
const PAD = MAX_HEADER_BYTES + 64;
/** Input joined across chunk boundaries goes into one shared buffer when it fits (copied out if it must persist). */
const STITCH_BYTES = 4096;
let stitchScratch: Buffer | null = null;

export function truncated(): InflateError {
  return new InflateError('Compressed data ends in the middle of a block');
}

export class InflateState {
  /** The bytes being read: a pushed chunk, or a stitch of a chunk's tail with what follows. */
  inp: Uint8Array = EMPTY;
  /** Next byte of `inp` to load into `hold`. */
  ip = 0;
  /** Real bytes in `inp`; when `padded`, zeros follow up to `inEnd`. */
  inLen = 0;
  /** Readable bytes in `inp` (real and padding). */
  inEnd = 0;
  padded = false;
  /** Bit buffer, least significant bit first; at most 30 bits so it stays a small integer. */
  hold = 0;
  bits = 0;
  /** end() was called: the sync tail is queued and no more input comes. */
  ended = false;
  /** Pushed chunks not yet read: slots [head, tail) of an array reused across messages. */
  #queue: Uint8Array[] = [];
  #head = 0;
  #tail = 0;
  #queued = 0;

  /** The output buffer of the current call, the next position in it, and where its valid history starts. */
  out: Uint8Array = EMPTY;
  pos = 0;
  histStart = 0;
  lit: Int32Array = new Int32Array(0);
  litMask = 0;
  dist: Int32Array = new Int32Array(0);
  distMask = 0;
  readonly window: SlidingWindow;

  constructor(window: SlidingWindow) {
    this.window = window;
  }

  reset(): void {
    this.inp = EMPTY;
    this.ip = 0;
    this.inLen = 0;
    this.inEnd = 0;
    this.padded = false;
    this.hold = 0;
    this.bits = 0;
    this.ended = false;
    this.#queue.fill(EMPTY, this.#head, this.#tail);
    this.#head = 0;
    this.#tail = 0;
    this.#queued = 0;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#queue[this.#tail++] = chunk;
    this.#queued += chunk.length;
  }

  end(): void {
    this.push(SYNC_TAIL);
    this.ended = true;
  }

  /** Input bits consumed past the real end: the stream was cut short. */
  get overran(): boolean {
    return this.padded && this.ip * 8 - this.bits > this.inLen * 8;
  }

  /** Every real input bit is consumed and no more will come. */
  get exhausted(): boolean {
    return this.ended && this.#head === this.#tail && this.ip * 8 - this.bits >= this.inLen * 8;
  }

  /** Real input bits not yet consumed, queued chunks included. */
  get bitsLeft(): number {
    return (this.inLen - this.ip + this.#queued) * 8 + this.bits;
  }

  /**
   * Makes `inp` hold at least `k` bytes from `ip` (real or padding); false when fewer exist and the message has not
   * ended. Joins whole chunks: each input byte is copied at most once per chunk boundary it sits next to.
   */
  ensure(k: number): boolean {
    if (this.inEnd - this.ip >= k) return true;
    // The padding covers every read unless the reads have long passed the real end.
    if (this.padded) throw truncated();
    const queue = this.#queue;
    const have = this.inLen - this.ip;
    if (have + this.#queued < k && !this.ended) return false;
    let last = this.#head;
    const next = queue[last];
    if (
      have === 0 &&
      next !== undefined &&
      last < this.#tail &&
      next.length >= k &&
      !(this.ended && last === this.#tail - 1)
    ) {
      this.#take(next, next.length, next.length, false);
      return true;
    }
    let size = have;
    while (size < k && last < this.#tail) size += queue[last++]!.length;
    const pad = this.ended && last === this.#tail;
    const total = pad ? size + PAD : size;
    let buf: Uint8Array;
    if (total <= STITCH_BYTES + PAD) {
      stitchScratch ??= Buffer.alloc(STITCH_BYTES + PAD);
      buf = stitchScratch;
      if (this.inp === buf) buf.copyWithin(0, this.ip, this.inLen);
      else for (let i = 0; i < have; i++) buf[i] = this.inp[this.ip + i]!;
      if (pad) buf.fill(0, size, total);
    } else {
      buf = Buffer.alloc(total);
      if (have > 0) buf.set(this.inp.subarray(this.ip, this.inLen), 0);
    }
    for (let at = have; this.#head < last; this.#head++) {
      const c = queue[this.#head]!;
      buf.set(c, at);
      at += c.length;
      this.#queued -= c.length;
      queue[this.#head] = EMPTY;
    }
    this.#take(buf, size, total, pad);
    return true;
  }

  #take(buf: Uint8Array, real: number, end: number, pad: boolean): void {
    if (buf === this.#queue[this.#head]) {
      this.#queued -= buf.length;
      this.#queue[this.#head++] = EMPTY;
    }
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
    }
    this.inp = buf;
    this.ip = 0;
    this.inLen = real;
    this.inEnd = end;
    this.padded = pad;
  }

  /** Copies up to `n` real input bytes to `out[pos..]` (the bit buffer must be empty); returns how many. */
  copyBytes(out: Uint8Array, pos: number, n: number): number {
    let done = 0;
    while (done < n) {
      const avail = this.inLen - this.ip;
      if (avail <= 0) {
        if (this.#head === this.#tail) break;
        const c = this.#queue[this.#head]!;
        this.#take(c, c.length, c.length, false);
        continue;
      }
      const m = Math.min(avail, n - done);
      out.set(this.inp.subarray(this.ip, this.ip + m), pos + done);
      this.ip += m;
      done += m;
    }
    return done;
  }

  /** Before the call returns: input left in the shared stitch buffer moves to a buffer of its own. */
  detach(): void {
    if (this.inp !== stitchScratch) return;
    this.inp = Buffer.from(this.inp.subarray(this.ip, this.inEnd));
    this.inLen -= this.ip;
    this.inEnd -= this.ip;
    this.ip = 0;
  }
}
