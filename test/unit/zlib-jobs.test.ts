// The threadpool queue of large deflates (src/extensions/zlib-jobs.ts): a job that zlib refuses before it starts
// must give its place back, or after two of them every later large message in the process would wait for ever.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { deflateRawAsync } from '../../src/extensions/zlib-jobs.js';

/** Rejects if `p` has not settled within `ms`: a queue that lost its places never answers. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('deflateRawAsync', () => {
  it('jobs zlib refuses at once reject, and the queue still runs the next ones', async () => {
    const data = Buffer.alloc(70_000, 'a');
    // More refused jobs than the queue has places, each thrown synchronously by zlib (level out of range).
    for (let i = 0; i < 4; i++) {
      await assert.rejects(within(deflateRawAsync(data, { level: 99 }), 5000), RangeError);
    }
    const results = await within(
      Promise.all([1, 2, 3].map(() => deflateRawAsync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH }))),
      5000,
    );
    for (const out of results) {
      assert.deepEqual(zlib.inflateRawSync(out, { finishFlush: zlib.constants.Z_SYNC_FLUSH }), data);
    }
  });

  it('a refused job queued behind running ones rejects without disturbing them', async () => {
    const data = Buffer.alloc(70_000, 'b');
    const jobs = [
      deflateRawAsync(data, {}),
      deflateRawAsync(data, {}),
      deflateRawAsync(data, { level: 99 }), // waits for a place, then zlib refuses it
      deflateRawAsync(data, {}),
    ];
    const settled = await within(Promise.allSettled(jobs), 5000);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
  });
});
