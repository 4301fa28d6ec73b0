// Costs of live compressors that the correctness tests do not see: a connection whose sends keep being refused (the
// 'drop' policy on a slow consumer) and the memory each open compressor holds besides zlib's own state.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { DeflateSender } from '../../src/extensions/deflate-sender.js';
import { LiveDeflate, LiveDeflatePool, type LiveOptions } from '../../src/extensions/live-deflate.js';
import { resolveCompression } from '../../src/extensions/permessage-deflate.js';
import { prng, textOfSize } from '../helpers/deflate-peer.js';
import { ManualClock } from '../helpers/manual-clock.js';

const CFG = resolveCompression('dedicated')!;
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

class CountingPool extends LiveDeflatePool {
  acquired = 0;
  override acquire(options: LiveOptions): LiveDeflate | null {
    const live = super.acquire(options);
    if (live) this.acquired++;
    return live;
  }
}

function peer(): (payload: Buffer) => Promise<Buffer> {
  const stream = zlib.createInflateRaw({ windowBits: 13, chunkSize: 64 });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return (payload) =>
    new Promise((resolve, reject) => {
      stream.once('error', reject);
      stream.write(Buffer.concat([payload, TAIL]));
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        stream.off('error', reject);
        resolve(Buffer.concat(chunks.splice(0)));
      });
    });
}

describe('live compressors: what refused sends cost', () => {
  it('a run of refused messages does not open (and prime) a new zlib stream for each one', async () => {
    const pool = new CountingPool(4, new ManualClock());
    const sender = new DeflateSender(15, true, CFG, pool);
    const inflate = peer();
    const rand = prng(21);
    const first = Buffer.from(textOfSize(1500, rand));
    assert.deepEqual(await inflate(sender.compress(first) as Buffer), first);
    sender.commit(first);
    // The peer stopped reading: the send queue compresses each message, then refuses it (never committed).
    for (let i = 0; i < 200; i++) sender.compress(Buffer.from(textOfSize(1500, rand)));
    assert.ok(pool.acquired <= 2, `${pool.acquired} zlib streams opened for 200 refused messages`);
    // Once messages go through again, they still decode, and a live compressor takes over again.
    for (let i = 0; i < 5; i++) {
      const msg = Buffer.from(textOfSize(1500, rand));
      assert.deepEqual(await inflate(sender.compress(msg) as Buffer), msg);
      sender.commit(msg);
    }
    assert.equal(pool.size, 1, 'a live compressor again once messages are committed');
  });
});

describe('live compressors: memory besides zlib state', () => {
  it('an open compressor holds no 16 KiB stream output buffer (it writes into the shared scratch)', () => {
    const options = { windowBits: 13, level: 6, memLevel: 8, dictionary: Buffer.alloc(0) };
    const before = process.memoryUsage().arrayBuffers;
    const lives = Array.from({ length: 200 }, () => new LiveDeflate(options));
    const perLive = (process.memoryUsage().arrayBuffers - before) / lives.length;
    for (const l of lives) l.close();
    assert.ok(perLive < 4096, `${Math.round(perLive)} bytes of ArrayBuffer per live compressor`);
  });
});
