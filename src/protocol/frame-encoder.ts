// Frame headers and whole frames (RFC 6455 §5.2): 7/16/64-bit lengths, FIN/RSV1 bits, client masking (§5.3).
import { randomFillSync } from 'node:crypto';
import { applyMask } from './mask.js';

/** Payloads up to this size are copied behind their header so the frame goes out as one buffer, one write. */
export const COPY_THRESHOLD = 2048;

export function headerLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength <= 0xffff ? 4 : 10;
  return masked ? base + 4 : base;
}

/** Writes a frame header at `offset`; returns its length. `maskKey` (4 bytes) is written when given. */
export function writeHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  payloadLength: number,
  fin: boolean,
  rsv1: boolean,
  maskKey: Uint8Array | null,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey ? 0x80 : 0;
  let at = offset + 2;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength <= 0xffff) {
    target[offset + 1] = maskBit | 126;
    target.writeUInt16BE(payloadLength, at);
    at += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    // §5.2: the most significant bit of a 64-bit length must be 0; JS lengths stay far below 2^53 anyway.
    target.writeUInt32BE(Math.floor(payloadLength / 0x1_0000_0000), at);
    target.writeUInt32BE(payloadLength >>> 0, at + 4);
    at += 8;
  }
  if (maskKey) {
    target[at] = maskKey[0]!;
    target[at + 1] = maskKey[1]!;
    target[at + 2] = maskKey[2]!;
    target[at + 3] = maskKey[3]!;
    at += 4;
  }
  return at - offset;
}

/** Encodes a whole frame into one new buffer (header, then the payload, masked when a key is given). */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  fin: boolean,
  rsv1: boolean,
  maskKey: Uint8Array | null,
): Buffer {
  const len = payload.length;
  const out = Buffer.allocUnsafe(headerLength(len, maskKey !== null) + len);
  const at = writeHeader(out, 0, opcode, len, fin, rsv1, maskKey);
  if (maskKey) applyMask(payload, 0, out, at, len, maskKey);
  else out.set(payload, at);
  return out;
}

/** Encodes a text frame straight from a string, skipping the intermediate payload buffer. */
export function encodeTextFrame(text: string, byteLength: number, fin: boolean, maskKey: Uint8Array | null): Buffer {
  const out = Buffer.allocUnsafe(headerLength(byteLength, maskKey !== null) + byteLength);
  const at = writeHeader(out, 0, 0x1, byteLength, fin, false, maskKey);
  out.write(text, at, byteLength, 'utf8');
  if (maskKey) applyMask(out, at, out, at, byteLength, maskKey);
  return out;
}

const KEY_POOL_SIZE = 4096;
let keyPool = Buffer.alloc(0);
let keyPoolOffset = KEY_POOL_SIZE;

/** A fresh 4-byte masking key (§5.3 requires unpredictable keys); random bytes are drawn in bulk and sliced. */
export function nextMaskKey(): Buffer {
  if (keyPoolOffset >= KEY_POOL_SIZE) {
    keyPool = randomFillSync(Buffer.allocUnsafe(KEY_POOL_SIZE));
    keyPoolOffset = 0;
  }
  const key = keyPool.subarray(keyPoolOffset, keyPoolOffset + 4);
  keyPoolOffset += 4;
  return key;
}
