// The payload pieces of one message as they arrive (RFC 6455 §5.4: a message may come in any number of fragments),
// held in memory proportional to the payload bytes however finely a peer fragments it.

/** Pieces at least this large that fill at least half of their backing memory are kept as they are, not copied. */
const SHARE_MIN = 4096;
/** Small pieces are copied into blocks of this size (or larger, for a large piece). */
const BLOCK = 16 * 1024;

/**
 * A message's bytes are often one piece of a read chunk: that piece is kept without a copy. Small pieces, and pieces
 * that would pin a much larger read chunk (a 1-byte fragment inside 64 KiB of other frames), are copied into shared
 * blocks, so a million 1-byte fragments cost about a megabyte, not a million Buffer objects and the chunks under them.
 */
export class PayloadBuffer {
  #first: Buffer | null = null;
  #parts: Buffer[] | null = null;
  #block: Buffer | null = null;
  #blockUsed = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get empty(): boolean {
    return this.#size === 0;
  }

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#size += piece.length;
    if (this.#first === null && this.#parts === null) {
      // Kept as it is until we know the message does not end with it.
      this.#first = piece;
      return;
    }
    this.settle();
    this.#add(piece);
  }

  /** The message goes on past what was pushed so far: stop relying on the first piece being its only one. */
  settle(): void {
    const first = this.#first;
    if (first === null) return;
    this.#first = null;
    this.#parts = [];
    this.#add(first);
  }

  /** Everything pushed, as one Buffer (no copy when it came in one piece), and empties the buffer. */
  take(): Buffer {
    const first = this.#first;
    if (first !== null) {
      this.#reset();
      return first;
    }
    this.#closeBlock();
    const parts = this.#parts ?? [];
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#size);
    this.#reset();
    return out;
  }

  /** Everything pushed as a list of pieces (for zlib or a stream), and empties the buffer. */
  takeParts(): Buffer[] {
    const first = this.#first;
    if (first !== null) {
      this.#reset();
      return [first];
    }
    this.#closeBlock();
    const parts = this.#parts ?? [];
    this.#reset();
    return parts;
  }

  #add(piece: Buffer): void {
    if (piece.length >= SHARE_MIN && piece.length * 2 >= piece.buffer.byteLength) {
      this.#closeBlock();
      this.#parts!.push(piece);
      return;
    }
    let block = this.#block;
    if (block === null || this.#blockUsed + piece.length > block.length) {
      this.#closeBlock();
      block = Buffer.allocUnsafeSlow(Math.max(BLOCK, piece.length));
      this.#block = block;
    }
    piece.copy(block, this.#blockUsed);
    this.#blockUsed += piece.length;
  }

  /** The block so far becomes a part; one closed before it is full is copied out (trimmed) and reused. */
  #closeBlock(): void {
    const block = this.#block;
    const used = this.#blockUsed;
    if (block === null || used === 0) return;
    if (used === block.length) {
      this.#parts!.push(block);
      this.#block = null;
    } else {
      this.#parts!.push(Buffer.from(block.subarray(0, used)));
    }
    this.#blockUsed = 0;
  }

  #reset(): void {
    this.#first = null;
    this.#parts = null;
    this.#block = null;
    this.#blockUsed = 0;
    this.#size = 0;
  }
}
