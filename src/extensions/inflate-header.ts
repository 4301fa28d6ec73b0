// The header of a dynamic Huffman block (RFC 1951 §3.2.7): counts, the code-length code, then the literal/length and
// distance code lengths it encodes (with the repeat codes 16, 17, 18), built into decoding tables.
import { InflateError } from './inflate-errors.js';
import type { InflateState } from './inflate-state.js';
import { buildTable, DIST_ROOT_BITS, LIT_ROOT_BITS, type TableSet, TableKind } from './inflate-tables.js';

/** The order in which code-length code lengths are sent. */
const ORDER = Uint8Array.of(16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15);
const codeLengthLens = new Uint8Array(19);
const codeLengthTable = new Int32Array(128);
const lens = new Uint8Array(286 + 30);

/**
 * Reads a dynamic block header and builds its tables into `set`, making them the state's current tables. The caller
 * has made MAX_HEADER_BYTES of input readable, so no read here runs out (a header cut short reads padding zeros and
 * shows as `overran`, also when a fault is thrown).
 */
export function readDynamicHeader(s: InflateState, set: TableSet): void {
  const inp = s.inp;
  let ip = s.ip;
  let hold = s.hold;
  let bits = s.bits;
  while (bits < 14) {
    hold |= inp[ip++]! << bits;
    bits += 8;
  }
  const nlen = (hold & 31) + 257;
  const ndist = ((hold >>> 5) & 31) + 1;
  const ncode = ((hold >>> 10) & 15) + 4;
  hold >>>= 14;
  bits -= 14;
  // Where the bit reader is when a fault is found: the caller tells a cut-short header from a bad one by it.
  const save = (): void => {
    s.ip = ip;
    s.hold = hold;
    s.bits = bits;
  };
  if (nlen > 286 || ndist > 30) {
    save();
    throw new InflateError(
      `Invalid dynamic block: ${nlen} literal/length and ${ndist} distance codes (at most 286, 30)`,
    );
  }
  codeLengthLens.fill(0);
  for (let i = 0; i < ncode; i++) {
    if (bits < 3) {
      hold |= inp[ip++]! << bits;
      bits += 8;
    }
    codeLengthLens[ORDER[i]!] = hold & 7;
    hold >>>= 3;
    bits -= 3;
  }
  save();
  const clMask = (1 << buildTable(codeLengthLens, 0, 19, TableKind.CodeLengths, codeLengthTable, 7)) - 1;
  const total = nlen + ndist;
  for (let i = 0; i < total; ) {
    if (bits < 14) {
      hold |= inp[ip++]! << bits;
      bits += 8;
      hold |= inp[ip++]! << bits;
      bits += 8;
    }
    const here = codeLengthTable[hold & clMask]!;
    hold >>>= here & 15;
    bits -= here & 15;
    const sym = here >>> 12;
    if (sym < 16) {
      lens[i++] = sym;
      continue;
    }
    let value = 0;
    let repeat: number;
    if (sym === 16) {
      if (i === 0) save();
      if (i === 0) throw new InflateError('Invalid dynamic block: code 16 repeats a length with no previous one');
      value = lens[i - 1]!;
      repeat = 3 + (hold & 3);
      hold >>>= 2;
      bits -= 2;
    } else if (sym === 17) {
      repeat = 3 + (hold & 7);
      hold >>>= 3;
      bits -= 3;
    } else {
      repeat = 11 + (hold & 127);
      hold >>>= 7;
      bits -= 7;
    }
    if (i + repeat > total) {
      save();
      throw new InflateError('Invalid dynamic block: a repeat code runs past the last length');
    }
    lens.fill(value, i, i + repeat);
    i += repeat;
  }
  save();
  if (lens[256] === 0) throw new InflateError('Invalid dynamic block: no end-of-block code');
  s.litMask = (1 << buildTable(lens, 0, nlen, TableKind.LitLen, set.lit, LIT_ROOT_BITS)) - 1;
  s.distMask = (1 << buildTable(lens, nlen, ndist, TableKind.Dist, set.dist, DIST_ROOT_BITS)) - 1;
  s.lit = set.lit;
  s.dist = set.dist;
}
