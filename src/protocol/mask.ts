// XOR masking of frame payloads (RFC 6455 §5.3), a 32-bit word at a time on the aligned middle of long buffers.

const WORD_THRESHOLD = 64;
/** The key bytes are packed into one 32-bit word in the machine's byte order, to XOR a Uint32Array view. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Masks (or unmasks: XOR is its own inverse) `length` bytes from `src` into `dst`. `keyOffset` is how many payload
 * bytes came before `src[srcOffset]`, so a payload that arrives in several chunks is unmasked chunk by chunk.
 */
export function applyMask(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
  key: Uint8Array,
  keyOffset = 0,
): void {
  if (length >= WORD_THRESHOLD && (src !== dst || srcOffset !== dstOffset)) {
    // Copying first (memcpy) gives both sides the same alignment, so the in-place word loop always applies.
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
    maskInPlace(dst, dstOffset, length, key, keyOffset);
    return;
  }
  if (src === dst && srcOffset === dstOffset) {
    maskInPlace(dst, dstOffset, length, key, keyOffset);
    return;
  }
  for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i]! ^ key[(keyOffset + i) & 3]!;
}

function maskInPlace(buf: Uint8Array, offset: number, length: number, key: Uint8Array, keyOffset: number): void {
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    const lead = (4 - ((buf.byteOffset + offset) & 3)) & 3;
    for (; i < lead; i++) buf[offset + i]! ^= key[(keyOffset + i) & 3]!;
    const words = (length - lead) >>> 2;
    const k = keyOffset + lead;
    const b0 = key[k & 3]!;
    const b1 = key[(k + 1) & 3]!;
    const b2 = key[(k + 2) & 3]!;
    const b3 = key[(k + 3) & 3]!;
    // Arithmetic, not a temporary typed array per call: this runs for every masked payload of 64 bytes or more.
    const keyWord = LITTLE_ENDIAN
      ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
      : (b3 | (b2 << 8) | (b1 << 16) | (b0 << 24)) >>> 0;
    const view = new Uint32Array(buf.buffer, buf.byteOffset + offset + lead, words);
    for (let w = 0; w < words; w++) view[w]! ^= keyWord;
    i = lead + (words << 2);
  }
  for (; i < length; i++) buf[offset + i]! ^= key[(keyOffset + i) & 3]!;
}
