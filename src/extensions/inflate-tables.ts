// Huffman decoding tables for the inflater (RFC 1951 §3.2.2, §3.2.5, §3.2.6): canonical codes from code lengths, a
// primary lookup table indexed by the next `root` bits with one sub-table per longer prefix, and the fixed tables.
import { InflateError } from './inflate-errors.js';

/*
 * One table entry is one int32: value << 12 | op << 4 | bits. `bits` is how many bits this level consumes; `op`
 * says what the entry is; `value` is the literal byte, the base length or distance, or a sub-table's offset.
 * Length and distance entries carry their extra-bit count in op, so the decode loop needs no second lookup.
 */
export const OP_LITERAL = 0;
/** OR'd with the number of extra bits (0..13) of a length or distance symbol. */
export const OP_BASE = 16;
export const OP_END_OF_BLOCK = 32;
/** OR'd with the sub-table's index bits (1..7); value is the sub-table's offset. */
export const OP_LINK = 64;
export const OP_INVALID = 128;

export const TableKind = { CodeLengths: 0, LitLen: 1, Dist: 2 } as const;
export type TableKind = (typeof TableKind)[keyof typeof TableKind];

/** Primary-table index bits for dynamic codes (a table uses fewer when its longest code is shorter). */
export const LIT_ROOT_BITS = 10;
export const DIST_ROOT_BITS = 8;
/*
 * Capacities: the primary table plus sub-tables. A sub-table of 2^k entries exists only for a prefix whose subtree
 * holds at least k + 1 codes, and k ≤ 15 − root, so 286 literal/length codes need at most 2^10 + 47·2^5 + 2^3
 * entries and 30 distance codes at most 2^8 + 3·2^7 + 2^5 (loose bounds: the largest literal/length table the
 * tests build takes 1,304). buildTable checks it anyway.
 */
const LIT_TABLE_SIZE = 2560;
const DIST_TABLE_SIZE = 704;
const MAX_BITS = 15;

function entry(value: number, op: number, bits: number): number {
  return (value << 12) | (op << 4) | bits;
}

/** Entries without their bit count, per symbol, so building a table is one OR per slot. */
function templates(kind: TableKind): Int32Array {
  if (kind === TableKind.CodeLengths) return Int32Array.from({ length: 19 }, (_, sym) => entry(sym, OP_LITERAL, 0));
  if (kind === TableKind.Dist) {
    const t = new Int32Array(32).fill(entry(0, OP_INVALID, 0));
    for (let sym = 0, base = 1; sym < 30; sym++) {
      const extra = sym < 4 ? 0 : (sym >>> 1) - 1;
      t[sym] = entry(base, OP_BASE | extra, 0);
      base += 1 << extra;
    }
    return t;
  }
  const t = new Int32Array(288).fill(entry(0, OP_INVALID, 0));
  for (let sym = 0; sym < 256; sym++) t[sym] = entry(sym, OP_LITERAL, 0);
  t[256] = entry(0, OP_END_OF_BLOCK, 0);
  for (let sym = 257, base = 3; sym < 285; sym++) {
    const extra = sym < 265 ? 0 : (sym - 261) >>> 2;
    t[sym] = entry(base, OP_BASE | extra, 0);
    base += 1 << extra;
  }
  // 284 + 31 would be 258 with five extra bits; RFC 1951 gives 258 its own symbol with none.
  t[285] = entry(258, OP_BASE, 0);
  return t;
}

const TEMPLATES = [templates(TableKind.CodeLengths), templates(TableKind.LitLen), templates(TableKind.Dist)] as const;
const KIND_NAMES = ['code lengths', 'literal/length', 'distance'] as const;
const INVALID_ENTRY = entry(0, OP_INVALID, 1);

/** Bit reversal of bytes: DEFLATE packs Huffman codes most-significant bit first into a least-significant-first stream. */
const REVERSE_BYTE = Uint8Array.from({ length: 256 }, (_, b) => {
  let r = 0;
  for (let i = 0; i < 8; i++) r |= ((b >>> i) & 1) << (7 - i);
  return r;
});

function reverse(code: number, len: number): number {
  return ((REVERSE_BYTE[code & 0xff]! << 8) | REVERSE_BYTE[code >>> 8]!) >>> (16 - len);
}

const count = new Int32Array(MAX_BITS + 1);
const offsets = new Int32Array(MAX_BITS + 2);
const sorted = new Uint16Array(320);

/**
 * Builds the decoding table of `n` symbols whose code lengths are `lens[start..start+n)` into `table`; returns the
 * primary table's index bits. Rejects what zlib rejects: an over-subscribed set always, an incomplete one unless it
 * is a single code of length 1 (literal/length and distance codes); no codes at all yields a table of invalid
 * entries of value 0 (a block of literals needs no distance code).
 */
export function buildTable(
  lens: Uint8Array,
  start: number,
  n: number,
  kind: TableKind,
  table: Int32Array,
  maxRoot: number,
): number {
  count.fill(0);
  for (let i = 0; i < n; i++) count[lens[start + i]!]!++;
  let max = MAX_BITS;
  while (max > 0 && count[max] === 0) max--;
  if (max === 0) {
    // As zlib: an empty code-length code reads every length as a 1-bit 0 (the entries' value), so the block then
    // has no end-of-block code, unless the input ends first (then it is cut short).
    table[0] = INVALID_ENTRY;
    table[1] = INVALID_ENTRY;
    return 1;
  }
  let left = 1;
  for (let len = 1; len <= MAX_BITS; len++) {
    left = (left << 1) - count[len]!;
    if (left < 0) throw new InflateError(`Invalid ${KIND_NAMES[kind]} code: over-subscribed`);
  }
  if (left > 0 && (kind === TableKind.CodeLengths || max !== 1)) {
    throw new InflateError(`Invalid ${KIND_NAMES[kind]} code: incomplete set of code lengths`);
  }
  const root = Math.min(maxRoot, max);
  if (left > 0) {
    table[0] = INVALID_ENTRY;
    table[1] = INVALID_ENTRY;
  }
  offsets[1] = 0;
  for (let len = 1; len <= MAX_BITS; len++) offsets[len + 1] = offsets[len]! + count[len]!;
  for (let i = 0; i < n; i++) {
    const len = lens[start + i]!;
    if (len !== 0) sorted[offsets[len]!++] = i;
  }
  const template = TEMPLATES[kind];
  const rootSize = 1 << root;
  let code = 0;
  let k = 0;
  let len = 1;
  for (; len <= root; len++, code <<= 1) {
    for (let c = count[len]!; c > 0; c--, code++) {
      const e = template[sorted[k++]!]! | len;
      for (let j = reverse(code, len); j < rootSize; j += 1 << len) table[j] = e;
    }
  }
  let next = rootSize;
  let prefix = -1;
  let subStart = 0;
  let subSize = 0;
  for (; len <= max; len++, code <<= 1) {
    for (; count[len]! > 0; count[len]!--, code++) {
      const rev = reverse(code, len);
      const low = rev & (rootSize - 1);
      if (low !== prefix) {
        // The sub-table's depth is its subtree's: canonical order fills this prefix's slots before any later one's.
        let subBits = len - root;
        let free = 1 << subBits;
        while (subBits + root < max) {
          free -= count[subBits + root]!;
          if (free <= 0) break;
          subBits++;
          free <<= 1;
        }
        subSize = 1 << subBits;
        if (next + subSize > table.length) throw new Error('Huffman table capacity exceeded (a bug)');
        table[low] = entry(next, OP_LINK | subBits, root);
        subStart = next;
        next += subSize;
        prefix = low;
      }
      const e = template[sorted[k++]!]! | (len - root);
      for (let j = rev >>> root; j < subSize; j += 1 << (len - root)) table[subStart + j] = e;
    }
  }
  return root;
}

/** One dynamic block's literal/length and distance tables, with their primary index bits. */
export class TableSet {
  readonly lit = new Int32Array(LIT_TABLE_SIZE);
  readonly dist = new Int32Array(DIST_TABLE_SIZE);
}

/** RFC 1951 §3.2.6, shared by every inflater: literal/length codes of 7–9 bits and 32 distance codes of 5. */
export const FIXED_LIT = new Int32Array(512);
export const FIXED_DIST = new Int32Array(32);
const FIXED_LENS = new Uint8Array(288).fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
export const FIXED_LIT_BITS = buildTable(FIXED_LENS, 0, 288, TableKind.LitLen, FIXED_LIT, 9);
export const FIXED_DIST_BITS = buildTable(new Uint8Array(32).fill(5), 0, 32, TableKind.Dist, FIXED_DIST, 5);

/*
 * Tables are needed only while a dynamic block is being decoded; an inflater takes a set for its message and gives
 * it back when the message ends, so idle connections hold none and busy ones do not allocate per message.
 */
const MAX_FREE_SETS = 8;
const freeSets: TableSet[] = [];

export function acquireTables(): TableSet {
  return freeSets.pop() ?? new TableSet();
}

export function releaseTables(set: TableSet): void {
  if (freeSets.length < MAX_FREE_SETS) freeSets.push(set);
}

/** Bytes of one table set (what an inflater holds while a dynamic block is in progress). */
export const TABLE_SET_BYTES = (LIT_TABLE_SIZE + DIST_TABLE_SIZE) * 4;
