// The inflater's sliding window (RFC 1951 §3.2; RFC 7692 §7.2.2 context takeover): a ring of the last 2^windowBits
// output bytes, which back-references read once those bytes have left the output buffer.

/** Below this many bytes a loop beats creating a subarray for `set`. */
const LOOP_COPY_MAX = 32;

export class SlidingWindow {
  readonly size: number;
  /** Allocated on first use, so an inflater that never sees a message holds nothing. */
  #ring: Uint8Array | null = null;
  /** Valid bytes, at most `size`. */
  #fill = 0;
  /** Where the next byte goes. */
  #next = 0;

  constructor(bits: number) {
    this.size = 1 << bits;
  }

  get fill(): number {
    return this.#fill;
  }

  /** Bytes allocated (0 until the first append). */
  get allocated(): number {
    return this.#ring === null ? 0 : this.size;
  }

  /** Forgets the history (a new message without context takeover), keeping the memory. */
  clear(): void {
    this.#fill = 0;
    this.#next = 0;
  }

  /** Forgets the history and frees the memory. */
  release(): void {
    this.clear();
    this.#ring = null;
  }

  /** Adds `src[start..end)` as the newest history. */
  append(src: Uint8Array, start: number, end: number): void {
    const size = this.size;
    this.#ring ??= new Uint8Array(size);
    const ring = this.#ring;
    const n = end - start;
    if (n >= size) {
      ring.set(src.subarray(end - size, end), 0);
      this.#next = 0;
      this.#fill = size;
      return;
    }
    let at = this.#next;
    if (n <= LOOP_COPY_MAX) {
      for (let i = start; i < end; i++) {
        ring[at] = src[i]!;
        at = (at + 1) & (size - 1);
      }
    } else {
      const first = Math.min(n, size - at);
      ring.set(src.subarray(start, start + first), at);
      if (first < n) ring.set(src.subarray(start + first, end), 0);
      at = (at + n) & (size - 1);
    }
    this.#next = at;
    this.#fill = Math.min(size, this.#fill + n);
  }

  /**
   * Copies to `out[pos..]` up to `len` bytes of the history starting `back` bytes before its end (1 ≤ back ≤ fill);
   * returns how many: min(len, back), the rest of the match being in the output buffer.
   */
  copyOut(out: Uint8Array, pos: number, back: number, len: number): number {
    const ring = this.#ring!;
    const size = this.size;
    const n = Math.min(len, back);
    let from = (this.#next - back + size) & (size - 1);
    if (n <= LOOP_COPY_MAX) {
      for (let i = 0; i < n; i++) {
        out[pos + i] = ring[from]!;
        from = (from + 1) & (size - 1);
      }
      return n;
    }
    const first = Math.min(n, size - from);
    out.set(ring.subarray(from, from + first), pos);
    if (first < n) out.set(ring.subarray(0, n - first), pos + first);
    return n;
  }
}
