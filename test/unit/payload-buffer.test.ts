// PayloadBuffer: one message's pieces held in memory proportional to their bytes, whatever the fragmentation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PayloadBuffer } from '../../src/connection/payload-buffer.js';
import { pattern } from '../helpers/payloads.js';

describe('PayloadBuffer', () => {
  it('a message in one piece comes back as that very piece (no copy)', () => {
    const b = new PayloadBuffer();
    const piece = Buffer.from('hello');
    b.push(piece);
    assert.equal(b.take(), piece);
    assert.equal(b.empty, true);
  });

  it('a million one-byte pieces of a 64 KiB chunk are kept in a handful of blocks, and come back whole', () => {
    const chunk = pattern(64 * 1024, 3);
    const b = new PayloadBuffer();
    let expected = 0;
    for (let i = 0; i < 1_000_000; i++) {
      b.push(chunk.subarray(i % chunk.length, (i % chunk.length) + 1));
      expected++;
    }
    assert.equal(b.size, expected);
    const parts = b.takeParts();
    assert.ok(parts.length <= Math.ceil(expected / (16 * 1024)) + 1, `${parts.length} parts`);
    // None of them is a view of the 64 KiB chunk: the chunk can be freed.
    assert.ok(parts.every((p) => p.buffer !== chunk.buffer));
    const joined = Buffer.concat(parts);
    for (let i = 0; i < 1000; i++) assert.equal(joined[i], chunk[i % chunk.length]);
  });

  it('large pieces that fill their memory are kept by reference; small views of large chunks are copied', () => {
    const b = new PayloadBuffer();
    const big = Buffer.alloc(32 * 1024, 1);
    const tiny = Buffer.alloc(64 * 1024, 2).subarray(0, 10);
    b.push(big);
    b.push(tiny);
    b.push(big);
    const parts = b.takeParts();
    assert.equal(parts[0], big);
    assert.notEqual(parts[1]!.buffer, tiny.buffer);
    assert.equal(parts[1]!.length, 10);
    assert.equal(parts[2], big);
  });

  it('settle() copies a small first piece that would otherwise pin its chunk while the message waits', () => {
    const chunk = Buffer.alloc(64 * 1024, 5);
    const b = new PayloadBuffer();
    b.push(chunk.subarray(0, 1));
    b.settle();
    const [only] = b.takeParts();
    assert.notEqual(only!.buffer, chunk.buffer);
    assert.deepEqual(only, Buffer.from([5]));
  });

  it('mixed sizes come back byte for byte in order', () => {
    const src = pattern(200_000, 11);
    const b = new PayloadBuffer();
    const sizes = [1, 5000, 3, 70_000, 2, 16_384, 1, 1, 8191];
    let at = 0;
    for (let i = 0; at < src.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, src.length - at);
      b.push(src.subarray(at, at + n));
      at += n;
    }
    assert.deepEqual(b.take(), src);
  });
});
