// XOR masking (RFC 6455 §5.3) checked against a naive byte loop at every length, key offset and alignment.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyMask } from '../../src/protocol/mask.js';
import { pattern } from '../helpers/payloads.js';

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

function naive(src: Uint8Array, key: Uint8Array, keyOffset: number): Buffer {
  const out = Buffer.alloc(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! ^ key[(keyOffset + i) & 3]!;
  return out;
}

const LENGTHS = [...Array.from({ length: 201 }, (_, i) => i), 1000, 4093, 4096, 65_537];

describe('applyMask', () => {
  it('matches the RFC 6455 §5.7 example', () => {
    const out = Buffer.alloc(5);
    applyMask(Buffer.from('Hello'), 0, out, 0, 5, KEY);
    assert.equal(out.toString('hex'), '7f9f4d5158');
  });

  it('out of place, at unaligned source and destination offsets, for every key offset', () => {
    for (const length of LENGTHS) {
      const payload = pattern(length, length);
      for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
        const expected = naive(payload, KEY, keyOffset);
        for (const srcOffset of [0, 1, 2, 3, 5]) {
          for (const dstOffset of [0, 1, 3, 6]) {
            // A backing buffer with guard bytes on both sides, so stray writes show.
            const src = Buffer.alloc(srcOffset + length + 3, 0xaa);
            payload.copy(src, srcOffset);
            const dst = Buffer.alloc(dstOffset + length + 3, 0x55);
            applyMask(src, srcOffset, dst, dstOffset, length, KEY, keyOffset);
            assert.ok(dst.subarray(dstOffset, dstOffset + length).equals(expected), `len ${length} k ${keyOffset}`);
            assert.ok(
              dst.subarray(0, dstOffset).every((b) => b === 0x55),
              'no write before the destination',
            );
            assert.ok(
              dst.subarray(dstOffset + length).every((b) => b === 0x55),
              'no write after the destination',
            );
            assert.ok(src.subarray(srcOffset, srcOffset + length).equals(payload), 'the source is untouched');
          }
        }
      }
    }
  });

  it('in place, at unaligned offsets and byteOffsets, for every key offset, and round-trips', () => {
    const arena = new ArrayBuffer(70_000);
    for (const length of LENGTHS) {
      const payload = pattern(length, length + 1);
      for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
        const expected = naive(payload, KEY, keyOffset);
        for (const byteOffset of [0, 1, 2, 3]) {
          for (const offset of [0, 1, 2, 7]) {
            if (byteOffset + offset + length + 2 > arena.byteLength) continue;
            const view = new Uint8Array(arena, byteOffset, offset + length + 2);
            view.fill(0xcc);
            view.set(payload, offset);
            applyMask(view, offset, view, offset, length, KEY, keyOffset);
            assert.ok(Buffer.from(view.subarray(offset, offset + length)).equals(expected), `len ${length}`);
            assert.ok(
              view.subarray(0, offset).every((b) => b === 0xcc),
              'no write before',
            );
            assert.ok(
              view.subarray(offset + length).every((b) => b === 0xcc),
              'no write after',
            );
            applyMask(view, offset, view, offset, length, KEY, keyOffset);
            assert.ok(Buffer.from(view.subarray(offset, offset + length)).equals(payload), 'masking twice restores');
          }
        }
      }
    }
  });

  it('unmasks a payload chunk by chunk when keyOffset carries the position', () => {
    for (const length of [1, 7, 63, 64, 65, 200, 4099]) {
      const payload = pattern(length, 3);
      const masked = naive(payload, KEY, 0);
      for (const cut of [1, 2, 3, 5, 64, 67]) {
        if (cut >= length) continue;
        const out = Buffer.alloc(length);
        applyMask(masked, 0, out, 0, cut, KEY, 0);
        applyMask(masked, cut, out, cut, length - cut, KEY, cut);
        assert.ok(out.equals(payload), `len ${length} cut ${cut}`);
      }
    }
  });

  it('length 0 writes nothing', () => {
    const dst = Buffer.alloc(4, 9);
    applyMask(Buffer.alloc(4), 0, dst, 1, 0, KEY, 2);
    assert.deepEqual([...dst], [9, 9, 9, 9]);
  });

  it('distinct views over the same bytes (same memory, different objects) mask in place correctly', () => {
    for (const length of [10, 100, 1000]) {
      const payload = pattern(length, 9);
      const backing = Buffer.from(payload);
      const a = new Uint8Array(backing.buffer, backing.byteOffset, length);
      const b = new Uint8Array(backing.buffer, backing.byteOffset, length);
      applyMask(a, 0, b, 0, length, KEY, 1);
      assert.ok(backing.equals(naive(payload, KEY, 1)));
    }
  });
});
