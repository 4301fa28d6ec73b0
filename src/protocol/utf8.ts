// Incremental UTF-8 validation (RFC 6455 §8.1, RFC 3629): fails at the first byte that cannot start or continue a
// valid sequence, even in the middle of a fragment, so a bad text message is rejected before it is complete.
import { isUtf8 } from 'node:buffer';

/**
 * Validates a stream of chunks. Bulk bytes go through the native `isUtf8`; only the few bytes that straddle chunk
 * boundaries go through the byte-wise decoder, which also rejects an invalid *prefix* of a code point at once.
 */
export class Utf8Validator {
  #need = 0; // continuation bytes still expected
  #lower = 0x80; // allowed range of the next continuation byte (RFC 3629 §4 excludes overlongs and surrogates)
  #upper = 0xbf;

  /** True while every byte seen so far can be part of valid UTF-8. */
  push(chunk: Uint8Array): boolean {
    let i = 0;
    const n = chunk.length;
    // Finish a code point left open by the previous chunk.
    while (this.#need > 0 && i < n) {
      if (!this.#continue(chunk[i]!)) return false;
      i++;
    }
    if (i === n) return true;
    // Find where the last (possibly incomplete) code point begins: at most 3 bytes back.
    let tail = n;
    for (let j = n - 1; j >= i && j >= n - 3; j--) {
      const b = chunk[j]!;
      if (b < 0x80) break;
      if (b >= 0xc0) {
        const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        if (n - j < len) tail = j;
        break;
      }
    }
    if (tail > i && !isUtf8(chunk.subarray(i, tail))) return false;
    for (let j = tail; j < n; j++) if (!this.#step(chunk[j]!)) return false;
    return true;
  }

  /** True when the stream ended on a code point boundary. */
  end(): boolean {
    const ok = this.#need === 0;
    this.reset();
    return ok;
  }

  reset(): void {
    this.#need = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  #step(b: number): boolean {
    return this.#need > 0 ? this.#continue(b) : this.#start(b);
  }

  #start(b: number): boolean {
    if (b < 0x80) return true;
    if (b >= 0xc2 && b <= 0xdf) {
      this.#need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      this.#need = 2;
      if (b === 0xe0) this.#lower = 0xa0;
      if (b === 0xed) this.#upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      this.#need = 3;
      if (b === 0xf0) this.#lower = 0x90;
      if (b === 0xf4) this.#upper = 0x8f;
    } else {
      return false;
    }
    return true;
  }

  #continue(b: number): boolean {
    if (b < this.#lower || b > this.#upper) return false;
    this.#lower = 0x80;
    this.#upper = 0xbf;
    this.#need--;
    return true;
  }
}

/** One-shot check for a complete payload (close reasons, unfragmented text). */
export function isValidUtf8(data: Uint8Array): boolean {
  return isUtf8(data);
}
