// Crafted-frame builders and split-point drivers for the sans-IO frame parser tests (RFC 6455 §5.2).
import assert from 'node:assert/strict';
import type { FrameParser, FrameSink } from '../../src/protocol/frame-parser.js';

/** Bytes from hex, ignoring whitespace and `|` separators: `hex('81 05 | 48 65')`. */
export function hex(text: string): Buffer {
  const clean = text.replace(/[\s|]/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new TypeError(`bad hex: ${text}`);
  return Buffer.from(clean, 'hex');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** A 4-byte masking key: the payload is masked with it and the MASK bit set. */
  mask?: Uint8Array | readonly number[] | null;
  /** Overrides the length written in the header (the payload actually appended stays `payload`). */
  length?: number | bigint;
  /** Forces the length encoding: 7-bit, 16-bit (126) or 64-bit (127), regardless of the length. */
  lengthForm?: 7 | 16 | 64;
}

/** Builds one frame byte for byte with a naive encoder, independent of src/protocol/frame-encoder.ts. */
export function frame(spec: FrameSpec): Buffer {
  const payload =
    spec.payload === undefined
      ? Buffer.alloc(0)
      : typeof spec.payload === 'string'
        ? Buffer.from(spec.payload)
        : Buffer.from(spec.payload);
  const length = BigInt(spec.length ?? payload.length);
  const form = spec.lengthForm ?? (length < 126n ? 7 : length <= 0xffffn ? 16 : 64);
  const b0 =
    ((spec.fin ?? true) ? 0x80 : 0) |
    (spec.rsv1 ? 0x40 : 0) |
    (spec.rsv2 ? 0x20 : 0) |
    (spec.rsv3 ? 0x10 : 0) |
    (spec.opcode & 0x0f);
  const maskBit = spec.mask ? 0x80 : 0;
  const parts: number[] = [b0];
  if (form === 7) {
    parts.push(maskBit | Number(length));
  } else if (form === 16) {
    parts.push(maskBit | 126, Number((length >> 8n) & 0xffn), Number(length & 0xffn));
  } else {
    parts.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) parts.push(Number((length >> shift) & 0xffn));
  }
  let body = payload;
  if (spec.mask) {
    const key = Array.from(spec.mask);
    assert.equal(key.length, 4, 'a masking key has 4 bytes');
    parts.push(...key);
    body = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) body[i] = payload[i]! ^ key[i & 3]!;
  }
  return Buffer.concat([Buffer.from(parts), body]);
}

export const MASK_KEY = [0x37, 0xfa, 0x21, 0x3d] as const;

export type ParserEvent =
  | { type: 'frame'; opcode: number; fin: boolean; rsv1: boolean; length: number }
  | { type: 'data'; data: Buffer }
  | { type: 'frameEnd'; fin: boolean }
  | { type: 'control'; opcode: number; payload: Buffer }
  | { type: 'error'; closeCode: number };

/**
 * Records parser events. Consecutive onData pieces are concatenated into one `data` event, so the record does not
 * depend on how the input was chunked. Pieces are copied: the parser may reuse (unmask in place) its input.
 */
export class RecordingSink implements FrameSink {
  readonly events: ParserEvent[] = [];
  readonly messages: string[] = [];
  /** Number of onData calls, for tests that check pieces are streamed rather than buffered. */
  dataCalls = 0;
  #pending: Buffer[] = [];

  onDataFrame(opcode: number, fin: boolean, rsv1: boolean, length: number): void {
    this.#flush();
    this.events.push({ type: 'frame', opcode, fin, rsv1, length });
  }

  onData(chunk: Buffer): void {
    assert.ok(chunk.length > 0, 'onData is never called with an empty piece');
    this.dataCalls++;
    this.#pending.push(Buffer.from(chunk));
  }

  onDataFrameEnd(fin: boolean): void {
    this.#flush();
    this.events.push({ type: 'frameEnd', fin });
  }

  onControl(opcode: number, payload: Buffer): void {
    this.#flush();
    this.events.push({ type: 'control', opcode, payload: Buffer.from(payload) });
  }

  onError(closeCode: number, message: string): void {
    this.#flush();
    this.events.push({ type: 'error', closeCode });
    this.messages.push(message);
  }

  /** The events so far, with any trailing data pieces flushed. */
  snapshot(): ParserEvent[] {
    this.#flush();
    return this.events;
  }

  get error(): number | undefined {
    const last = this.snapshot().at(-1);
    return last?.type === 'error' ? last.closeCode : undefined;
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    this.events.push({ type: 'data', data: Buffer.concat(this.#pending) });
    this.#pending = [];
  }
}

export type MakeParser = (sink: RecordingSink) => FrameParser;

/** Feeds `chunks` (each copied first, so every run starts from pristine bytes) and returns the recorded events. */
export function feed(chunks: readonly Uint8Array[], makeParser: MakeParser): ParserEvent[] {
  const sink = new RecordingSink();
  const parser = makeParser(sink);
  for (const c of chunks) parser.push(Buffer.from(c));
  const events = sink.snapshot();
  const errorAt = events.findIndex((e) => e.type === 'error');
  if (errorAt !== -1) assert.equal(errorAt, events.length - 1, 'no event follows an error');
  return events;
}

export interface SplitOptions {
  /** Inputs up to this length are also split at every pair of indices into three chunks. */
  pairLimit?: number;
  /** Inputs longer than this are split at every index of their first and last `edge` bytes and at a stride between. */
  everyIndexLimit?: number;
  edge?: number;
}

/** The split points to use for two-chunk splits of an input of `n` bytes. */
function singleSplitPoints(n: number, everyIndexLimit: number, edge: number): number[] {
  if (n <= everyIndexLimit) return Array.from({ length: Math.max(0, n - 1) }, (_, i) => i + 1);
  const points = new Set<number>();
  for (let i = 1; i < Math.min(edge, n); i++) points.add(i);
  for (let i = Math.max(1, n - edge); i < n; i++) points.add(i);
  const stride = Math.max(1, Math.floor(n / 257));
  for (let i = edge; i < n - edge; i += stride) points.add(i);
  return [...points].sort((a, b) => a - b);
}

/**
 * Feeds the same bytes (a) whole, (b) split at every index into two chunks, (c) split at every pair of indices into
 * three chunks when short, and (d) byte by byte; asserts the event sequence is identical in every case and returns it.
 */
export function feedAllSplits(bytes: Uint8Array, makeParser: MakeParser, options: SplitOptions = {}): ParserEvent[] {
  const { pairLimit = 40, everyIndexLimit = 2048, edge = 40 } = options;
  const n = bytes.length;
  const whole = feed([bytes], makeParser);
  const check = (chunks: Uint8Array[], what: string): void => {
    const got = feed(chunks, makeParser);
    // Compare cheaply first; on a mismatch let deepEqual print the difference.
    if (!sameEvents(got, whole)) assert.deepEqual(got, whole, `events differ when fed ${what}`);
  };
  for (const i of singleSplitPoints(n, everyIndexLimit, edge)) {
    check([bytes.subarray(0, i), bytes.subarray(i)], `split at ${i}`);
  }
  if (n <= pairLimit) {
    for (let i = 1; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        check([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)], `split at ${i} and ${j}`);
      }
    }
  }
  const single: Uint8Array[] = [];
  for (let i = 0; i < n; i++) single.push(bytes.subarray(i, i + 1));
  check(single, 'byte by byte');
  return whole;
}

function sameEvents(a: readonly ParserEvent[], b: readonly ParserEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.type !== y.type) return false;
    if (x.type === 'data' && y.type === 'data') {
      if (!x.data.equals(y.data)) return false;
    } else if (x.type === 'control' && y.type === 'control') {
      if (x.opcode !== y.opcode || !x.payload.equals(y.payload)) return false;
    } else if (JSON.stringify(x) !== JSON.stringify(y)) {
      return false;
    }
  }
  return true;
}

/** The events a well-formed single data frame produces. */
export function dataFrameEvents(
  opcode: number,
  payload: Uint8Array,
  fin = true,
  rsv1 = false,
  length = payload.length,
): ParserEvent[] {
  const events: ParserEvent[] = [{ type: 'frame', opcode, fin, rsv1, length }];
  if (payload.length > 0) events.push({ type: 'data', data: Buffer.from(payload) });
  events.push({ type: 'frameEnd', fin });
  return events;
}
