// The join of a large message's pieces (src/connection/sliced-join.ts): spread over later turns of the shared CPU
// budget, byte for byte the concatenation, and abandoned as soon as the connection stops reading.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JOIN_SLICE, joinInSlices } from '../../src/connection/sliced-join.js';

function parts(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(size, i & 0xff));
}

function turnsUntil(done: Promise<unknown>): Promise<number> {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    turns++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return done.then(() => {
    counting = false;
    return turns;
  });
}

describe('joinInSlices', () => {
  it('joins 16 MiB of 64 KiB pieces over at least one turn per MiB, equal to Buffer.concat', async () => {
    const pieces = parts(256, 64 * 1024);
    const size = 256 * 64 * 1024;
    let joined: Buffer | null = null;
    const done = new Promise<void>((resolve) =>
      joinInSlices(
        pieces,
        size,
        () => true,
        (data) => {
          joined = data;
          resolve();
        },
      ),
    );
    assert.equal(joined, null, 'nothing is copied synchronously');
    const turns = await turnsUntil(done);
    assert.ok(turns >= size / JOIN_SLICE - 1, `only ${turns} turns for ${size / JOIN_SLICE} slices`);
    assert.ok(Buffer.concat(pieces).equals(joined!));
  });

  it('pieces larger than a slice are copied whole, one per slice', async () => {
    const pieces = parts(3, 3 * JOIN_SLICE);
    const joined = await new Promise<Buffer>((resolve) => joinInSlices(pieces, 9 * JOIN_SLICE, () => true, resolve));
    assert.ok(Buffer.concat(pieces).equals(joined));
  });

  it('stops, and never calls done, once alive() is false', async () => {
    let alive = true;
    let slices = 0;
    let finished = false;
    joinInSlices(
      parts(64, 64 * 1024),
      64 * 64 * 1024,
      () => {
        slices++;
        if (slices === 2) alive = false;
        return alive;
      },
      () => {
        finished = true;
      },
    );
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(slices, 2);
    assert.equal(finished, false);
  });
});
