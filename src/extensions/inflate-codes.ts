// The inflater's hot loop: literal/length and distance symbols of a Huffman-coded block (RFC 1951 §3.2.5), decoded
// through the block's tables and copied from the output buffer or, further back, from the sliding window.
import { InflateError } from './inflate-errors.js';
import type { InflateState } from './inflate-state.js';
import { OP_BASE, OP_END_OF_BLOCK, OP_LINK } from './inflate-tables.js';

/** Input bytes one symbol (length, distance and their extra bits: at most 48 bits) may load past `ip`. */
export const SYMBOL_INPUT_BYTES = 7;
/** RFC 1951 §3.2.5: the longest match; one symbol writes at most this much. */
export const MAX_MATCH = 258;
/** Matches shorter than this are copied byte by byte: cheaper than a call into copyWithin or fill. */
const SHORT_MATCH = 16;

/** A match reaching back before the output buffer's history: its start is in the sliding window. */
function copyFar(s: InflateState, out: Uint8Array, pos: number, dist: number, len: number): number {
  const window = s.window;
  const near = pos - s.histStart;
  if (dist > window.size || dist - near > window.fill) {
    s.pos = pos;
    throw new InflateError(
      `Invalid distance ${dist}: too far back (${Math.min(window.size, near + window.fill)} bytes of history)`,
    );
  }
  let at = pos + window.copyOut(out, pos, dist - near, len);
  for (let from = at - dist, end = pos + len; at < end; ) out[at++] = out[from++]!;
  return at;
}

/**
 * Decodes symbols while `ip < inStop` and `pos < outStop`; returns true when it reaches the end-of-block code. The
 * caller guarantees SYMBOL_INPUT_BYTES readable bytes after inStop − 1 and MAX_MATCH bytes of room after outStop − 1,
 * so the loop checks neither. Before throwing, it leaves `ip` and `bits` where the fault was (a stream cut short
 * shows as `overran` there).
 */
export function decodeCodes(s: InflateState, inStop: number, outStop: number): boolean {
  const inp = s.inp;
  const out = s.out;
  const lit = s.lit;
  const litMask = s.litMask;
  const dist = s.dist;
  const distMask = s.distMask;
  const windowSize = s.window.size;
  const histStart = s.histStart;
  let ip = s.ip;
  let hold = s.hold;
  let bits = s.bits;
  let pos = s.pos;
  let endOfBlock = false;
  while (ip < inStop && pos < outStop) {
    if (bits < 15) {
      hold |= inp[ip++]! << bits;
      bits += 8;
      hold |= inp[ip++]! << bits;
      bits += 8;
    }
    let here = lit[hold & litMask]!;
    if ((here & (OP_LINK << 4)) !== 0) {
      hold >>>= here & 15;
      bits -= here & 15;
      here = lit[(here >>> 12) + (hold & ((1 << ((here >>> 4) & 15)) - 1))]!;
    }
    hold >>>= here & 15;
    bits -= here & 15;
    // A literal is the only entry with no op bits.
    if ((here & 0xff0) === 0) {
      out[pos++] = here >>> 12;
      continue;
    }
    let op = (here >>> 4) & 0xff;
    if ((op & OP_BASE) !== 0) {
      let len = here >>> 12;
      let extra = op & 15;
      if (extra !== 0) {
        if (bits < extra) {
          hold |= inp[ip++]! << bits;
          bits += 8;
        }
        len += hold & ((1 << extra) - 1);
        hold >>>= extra;
        bits -= extra;
      }
      if (bits < 15) {
        hold |= inp[ip++]! << bits;
        bits += 8;
        hold |= inp[ip++]! << bits;
        bits += 8;
      }
      here = dist[hold & distMask]!;
      op = (here >>> 4) & 0xff;
      if ((op & OP_LINK) !== 0) {
        hold >>>= here & 15;
        bits -= here & 15;
        here = dist[(here >>> 12) + (hold & ((1 << (op & 15)) - 1))]!;
        op = (here >>> 4) & 0xff;
      }
      hold >>>= here & 15;
      bits -= here & 15;
      if ((op & OP_BASE) === 0) {
        s.ip = ip;
        s.bits = bits;
        throw new InflateError('Invalid distance code (30, 31 or one the block does not define)');
      }
      let d = here >>> 12;
      extra = op & 15;
      if (extra !== 0) {
        if (bits < extra) {
          hold |= inp[ip++]! << bits;
          bits += 8;
          if (bits < extra) {
            hold |= inp[ip++]! << bits;
            bits += 8;
          }
        }
        d += hold & ((1 << extra) - 1);
        hold >>>= extra;
        bits -= extra;
      }
      if (d > pos - histStart || d > windowSize) {
        s.ip = ip;
        s.bits = bits;
        pos = copyFar(s, out, pos, d, len);
      } else if (len < SHORT_MATCH) {
        let from = pos - d;
        const end = pos + len;
        while (pos < end) out[pos++] = out[from++]!;
      } else if (d >= len) {
        out.copyWithin(pos, pos - d, pos - d + len);
        pos += len;
      } else if (d === 1) {
        out.fill(out[pos - 1]!, pos, pos + len);
        pos += len;
      } else {
        // Overlapping: the copy repeats the last d bytes; each round doubles what can be copied at once.
        const end = pos + len;
        const from = pos - d;
        while (pos < end) {
          const n = Math.min(pos - from, end - pos);
          out.copyWithin(pos, from, from + n);
          pos += n;
        }
      }
      continue;
    }
    if ((op & OP_END_OF_BLOCK) !== 0) {
      endOfBlock = true;
      break;
    }
    s.ip = ip;
    s.bits = bits;
    throw new InflateError('Invalid literal/length code (286, 287 or one the block does not define)');
  }
  s.ip = ip;
  s.hold = hold;
  s.bits = bits;
  s.pos = pos;
  return endOfBlock;
}
