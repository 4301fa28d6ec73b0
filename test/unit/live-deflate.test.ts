// Live compressors (src/extensions/live-deflate.ts) and the sender that uses them: the pool's cap and idle sweep,
// every way the live zlib window could part from the peer's (a message never committed, one compressed on the
// threadpool or streamed, a compressor swept or refused), each checked against a strict long-lived zlib inflater, a
// compressor that fails, and what they cost besides zlib's state (refused sends, memory).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  DeflateSender,
  ONE_SHOT_MIN_DICTIONARY,
  primer,
  SYNC_DEFLATE_MAX,
} from '../../src/extensions/deflate-sender.js';
import { resolveCompression } from '../../src/extensions/permessage-deflate.js';
import {
  COLD_GAP_BYTES,
  COLD_MESSAGE_BYTES,
  LIVE_SWEEP_MS,
  LiveDeflate,
  LiveDeflatePool,
  type LiveOptions,
  WARM_GAP_BYTES,
} from '../../src/extensions/live-deflate.js';
import { prng, textOfSize } from '../helpers/deflate-peer.js';
import { ManualClock } from '../helpers/manual-clock.js';

const CFG = resolveCompression('dedicated')!;
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
const OPTIONS = { windowBits: 13, level: 6, memLevel: 8, dictionary: Buffer.alloc(0) };

/** Chat-like JSON lines; consecutive ones share most of their bytes, so each refers back to the one before. */
function lines(count: number, seed: number): Buffer[] {
  const rand = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const body = `{"room":"lobby","user":"user-${Math.floor(rand() * 5)}","text":"message ${Math.floor(rand() * 1e6)} ${'lorem ipsum '.repeat(1 + Math.floor(rand() * 20))}"}`;
    out.push(Buffer.from(body));
  }
  return out;
}

/**
 * The peer: one zlib inflate stream for the whole connection (as ws and browsers keep), with a 2^13 window and
 * chunkSize 64 so a reference to bytes it never received fails instead of reading stale memory.
 */
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

/** compress + commit, as the send queue does for a message it writes. */
async function send(sender: DeflateSender, data: Buffer): Promise<Buffer> {
  const payload = await sender.compress(data);
  sender.commit(data);
  return payload;
}

describe('LiveDeflatePool', () => {
  it('hands out at most max compressors; a release frees a place', () => {
    const pool = new LiveDeflatePool(2, new ManualClock());
    const a = pool.acquire(OPTIONS);
    const b = pool.acquire(OPTIONS);
    assert.ok(a && b);
    assert.equal(pool.acquire(OPTIONS), null);
    pool.release(a);
    assert.equal(a.closed, true);
    assert.equal(pool.size, 1);
    assert.ok(pool.acquire(OPTIONS));
  });

  it('a sweep closes what was unused since the last one, and stops when nothing is left', () => {
    const clock = new ManualClock();
    const pool = new LiveDeflatePool(4, clock);
    const busy = pool.acquire(OPTIONS)!;
    const idle = pool.acquire(OPTIONS)!;
    assert.equal(clock.pending, 1, 'one timer for the pool, not one per compressor');
    clock.advance(LIVE_SWEEP_MS); // both were just made: they count as used
    assert.equal(pool.size, 2);
    busy.compress(Buffer.from('still talking'));
    clock.advance(LIVE_SWEEP_MS);
    assert.equal(idle.closed, true);
    assert.equal(busy.closed, false);
    clock.advance(LIVE_SWEEP_MS);
    assert.equal(busy.closed, true);
    assert.equal(pool.size, 0);
    assert.equal(clock.pending, 0, 'an empty pool keeps no timer');
  });

  it('a closed compressor refuses work', () => {
    const live = new LiveDeflate(OPTIONS);
    live.close();
    assert.throws(() => live.compress(Buffer.from('x')), /closed/);
  });

  it('output larger than its 64 KiB scratch buffer comes out whole (incompressible input)', async () => {
    const live = new LiveDeflate(OPTIONS);
    const rand = prng(5);
    const data = Buffer.alloc(SYNC_DEFLATE_MAX);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
    const out = live.compress(data);
    assert.ok(out.length > 64 * 1024);
    assert.deepEqual(await peer()(out.subarray(0, -4)), data);
    live.close();
  });
});

describe('DeflateSender with live compressors: the peer always decodes', () => {
  it('uses a live compressor for small messages with context takeover, none without', async () => {
    const pool = new LiveDeflatePool(4, new ManualClock());
    const inflate = peer();
    const sender = new DeflateSender(15, true, CFG, pool);
    for (const msg of lines(50, 1)) assert.deepEqual(await inflate(await send(sender, msg)), msg);
    assert.equal(pool.size, 1);
    const stateless = new DeflateSender(15, false, CFG, pool);
    await send(stateless, Buffer.from('no context'));
    assert.equal(pool.size, 1);
  });

  it('a message compressed but never committed (dropped) is not referred to by the next', async () => {
    const pool = new LiveDeflatePool(4, new ManualClock());
    const inflate = peer();
    const sender = new DeflateSender(15, true, CFG, pool);
    const [a, b, c] = lines(3, 2) as [Buffer, Buffer, Buffer];
    assert.deepEqual(await inflate(await send(sender, a)), a);
    await sender.compress(b); // the send queue refused it: never written, never committed
    assert.deepEqual(await inflate(await send(sender, b)), b);
    assert.deepEqual(await inflate(await send(sender, c)), c);
  });

  it('a large message (threadpool) or a streamed one between small ones leaves the window in step', async () => {
    const pool = new LiveDeflatePool(4, new ManualClock());
    const inflate = peer();
    const sender = new DeflateSender(15, true, CFG, pool);
    const small = lines(6, 3);
    const large = Buffer.concat(lines(400, 4)).subarray(0, SYNC_DEFLATE_MAX + 1000);
    assert.deepEqual(await inflate(await send(sender, small[0]!)), small[0]);
    assert.deepEqual(await inflate(await send(sender, large)), large);
    assert.deepEqual(await inflate(await send(sender, small[1]!)), small[1]);
    const first = await sender.streamChunk(small[2]!, false);
    const last = await sender.streamChunk(small[3]!, true);
    assert.deepEqual(await inflate(Buffer.concat([first, last])), Buffer.concat([small[2]!, small[3]!]));
    assert.deepEqual(await inflate(await send(sender, small[4]!)), small[4]);
    assert.deepEqual(await inflate(await send(sender, Buffer.alloc(0))), Buffer.alloc(0));
    assert.deepEqual(await inflate(await send(sender, small[5]!)), small[5]);
  });

  it('after an idle sweep the next message starts a new compressor primed with the window', async () => {
    const clock = new ManualClock();
    const pool = new LiveDeflatePool(4, clock);
    const inflate = peer();
    const sender = new DeflateSender(15, true, CFG, pool);
    const msgs = lines(4, 6);
    assert.deepEqual(await inflate(await send(sender, msgs[0]!)), msgs[0]);
    clock.advance(2 * LIVE_SWEEP_MS);
    assert.equal(pool.size, 0);
    // The repeat compresses to a back-reference, which only a window primed with msgs[0] can produce.
    const repeat = await send(sender, msgs[0]!);
    assert.ok(repeat.length < msgs[0]!.length / 4, `repeat took ${repeat.length} bytes`);
    assert.deepEqual(await inflate(repeat), msgs[0]);
    assert.equal(pool.size, 1);
    for (const msg of msgs.slice(1)) assert.deepEqual(await inflate(await send(sender, msg)), msg);
  });

  it('when the pool is full, a connection compresses one-shot, with the same results', async () => {
    const pool = new LiveDeflatePool(1, new ManualClock());
    const a = new DeflateSender(15, true, CFG, pool);
    const b = new DeflateSender(15, true, CFG, pool);
    const [inflateA, inflateB] = [peer(), peer()];
    for (const msg of lines(30, 7)) {
      assert.deepEqual(await inflateA(await send(a, msg)), msg);
      assert.deepEqual(await inflateB(await send(b, msg)), msg);
    }
    assert.equal(pool.size, 1);
    a.dispose();
    assert.equal(pool.size, 0);
    // b takes the freed place on its next message.
    await send(b, Buffer.from('{"after":"a closed"}'));
    assert.equal(pool.size, 1);
  });

  it('dispose() returns the compressor at once and a disposed sender never takes another', async () => {
    const pool = new LiveDeflatePool(4, new ManualClock());
    const inflate = peer();
    const sender = new DeflateSender(15, true, CFG, pool);
    const msgs = lines(3, 8);
    await inflate(await send(sender, msgs[0]!));
    sender.dispose();
    assert.equal(pool.size, 0);
    assert.deepEqual(await inflate(await send(sender, msgs[1]!)), msgs[1]);
    assert.equal(pool.size, 0);
  });
});

describe('one-shot calls primed with the end of the window', () => {
  it('primer() gives the last max(ONE_SHOT_MIN_DICTIONARY, 2 × input) bytes, or the whole window when shorter', () => {
    const window = Buffer.from(Array.from({ length: 8192 }, (_, i) => i % 251));
    assert.deepEqual(primer(window, 100), window.subarray(8192 - ONE_SHOT_MIN_DICTIONARY));
    assert.deepEqual(primer(window, 3000), window.subarray(8192 - 6000));
    assert.equal(primer(window, 5000), window);
    const short = window.subarray(0, 1000);
    assert.equal(primer(short, 10), short);
  });

  it('a one-shot message refers back within the primed end and never past it; the peer decodes all', async () => {
    const sender = new DeflateSender(15, true, CFG, new LiveDeflatePool(0));
    const inflate = peer();
    const rand = prng(21);
    // 8 KiB of distinct text fills the window; then copies of its oldest and newest 200 bytes.
    const fill = sized(16, 512, 22);
    for (const msg of fill) assert.deepEqual(await inflate(await send(sender, msg)), msg);
    const all = Buffer.concat(fill);
    const newest = Buffer.from(all.subarray(all.length - 300, all.length - 100));
    const oldest = Buffer.from(all.subarray(all.length - 8000, all.length - 7800));
    const recent = await send(sender, newest);
    assert.deepEqual(await inflate(recent), newest);
    assert.ok(recent.length < 20, `a copy of recent bytes took ${recent.length} bytes`);
    // Past the primer (~7.8 KiB back, beyond 4 KiB): compressed as new text, and still decoded right.
    const old = await send(sender, oldest);
    assert.deepEqual(await inflate(old), oldest);
    assert.ok(old.length > 60, `a copy of bytes outside the primer took only ${old.length} bytes`);
    const tail = Buffer.from(textOfSize(700, rand));
    assert.deepEqual(await inflate(await send(sender, tail)), tail);
  });
});

/** `count` JSON messages of `size` bytes each (a JSON-ish text cut to size: compressible, each one different). */
function sized(count: number, size: number, seed: number): Buffer[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => Buffer.from(textOfSize(size, rand)));
}

/** Two senders on one counting pool: `sender`, decoded by `inflate`, and `other`, whose traffic cools it. */
function twoSenders() {
  const pool = new CountingPool(4, new ManualClock());
  return {
    pool,
    sender: new DeflateSender(15, true, CFG, pool),
    other: new DeflateSender(15, true, CFG, pool),
    inflate: peer(),
  };
}

describe('live compressors only where they pay: a cold state costs more than priming a fresh one', () => {
  it('the rule: taken within WARM_GAP_BYTES of traffic, kept within COLD_GAP_BYTES, and beyond for small messages', () => {
    const pool = new LiveDeflatePool(4, new ManualClock());
    assert.equal(pool.mayTake(WARM_GAP_BYTES), true);
    assert.equal(pool.mayTake(WARM_GAP_BYTES + 1), false);
    assert.equal(pool.mayTake(Number.POSITIVE_INFINITY), false, 'a first message is never warm');
    assert.equal(pool.mayKeep(COLD_MESSAGE_BYTES - 1, Number.POSITIVE_INFINITY), true);
    assert.equal(pool.mayKeep(COLD_MESSAGE_BYTES, COLD_GAP_BYTES), true);
    assert.equal(pool.mayKeep(COLD_MESSAGE_BYTES, COLD_GAP_BYTES + 1), false);
    pool.count(0);
    pool.count(100);
    pool.count(10 * COLD_MESSAGE_BYTES);
    assert.equal(pool.traffic, 100 + COLD_MESSAGE_BYTES, 'each message counts up to COLD_MESSAGE_BYTES');
  });

  it('a first message, however small, takes no compressor; the second, warm, does', async () => {
    const pool = new CountingPool(4, new ManualClock());
    const sender = new DeflateSender(15, true, CFG, pool);
    const inflate = peer();
    const [hello, next] = sized(2, 300, 31);
    assert.deepEqual(await inflate(await send(sender, hello!)), hello);
    assert.equal(pool.acquired, 0);
    assert.deepEqual(await inflate(await send(sender, next!)), next);
    assert.equal(pool.acquired, 1);
  });

  for (const [count, live] of [
    [WARM_GAP_BYTES / COLD_MESSAGE_BYTES + 1, true],
    [WARM_GAP_BYTES / COLD_MESSAGE_BYTES + 2, false],
  ] as const) {
    it(`${count} connections of ${COLD_MESSAGE_BYTES}-byte messages in turn: ${live ? 'each takes one' : 'none takes one'}`, async () => {
      const pool = new CountingPool(count, new ManualClock());
      const senders = Array.from({ length: count }, () => new DeflateSender(15, true, CFG, pool));
      const peers = senders.map(() => peer());
      for (let round = 0; round < 3; round++) {
        const msgs = sized(count, COLD_MESSAGE_BYTES, 40 + round);
        for (let i = 0; i < count; i++) assert.deepEqual(await peers[i]!(await send(senders[i]!, msgs[i]!)), msgs[i]);
      }
      assert.equal(pool.acquired, live ? count : 0);
      assert.equal(pool.size, live ? count : 0);
    });
  }

  it('traffic hovering between the two thresholds opens one compressor, not one every other message', async () => {
    const { pool, sender, other, inflate } = twoSenders();
    const msgs = sized(12, COLD_MESSAGE_BYTES, 90);
    // Between this connection's messages the others compress just within the warm gap, then just within the cold one.
    const gaps = [WARM_GAP_BYTES, COLD_GAP_BYTES].map((gap) =>
      sized(gap / COLD_MESSAGE_BYTES - 1, COLD_MESSAGE_BYTES, 91),
    );
    for (const [i, msg] of msgs.entries()) {
      for (const between of gaps[i % 2]!) await send(other, between);
      assert.deepEqual(await inflate(await send(sender, msg)), msg);
    }
    assert.equal(pool.acquired, 2, `${pool.acquired} zlib streams opened: one for each connection`);
  });

  it('a lone busy connection: its first large message goes one-shot, the next ones live, all decodable', async () => {
    const pool = new CountingPool(4, new ManualClock());
    const sender = new DeflateSender(15, true, CFG, pool);
    const inflate = peer();
    const [first, ...rest] = sized(6, COLD_MESSAGE_BYTES, 30);
    assert.deepEqual(await inflate(await send(sender, first!)), first);
    assert.equal(pool.size, 0, 'one message says nothing about the next: no zlib stream opened for it');
    for (const msg of rest) assert.deepEqual(await inflate(await send(sender, msg)), msg);
    assert.equal(pool.size, 1);
    assert.equal(pool.acquired, 1);
  });

  it('a compressor gone cold is released at the next large message, taken again once warm, windows in step', async () => {
    const { pool, sender, other, inflate } = twoSenders();
    const otherPeer = peer();
    const msgs = sized(5, COLD_MESSAGE_BYTES, 50);
    for (const msg of msgs.slice(0, 2)) assert.deepEqual(await inflate(await send(sender, msg)), msg);
    assert.equal(pool.size, 1);
    // Another connection compresses more than the gap (one-shot and then live: it is busy).
    for (const msg of sized(Math.ceil(COLD_GAP_BYTES / COLD_MESSAGE_BYTES) + 1, COLD_MESSAGE_BYTES, 51))
      assert.deepEqual(await otherPeer(await send(other, msg)), msg);
    other.dispose();
    assert.equal(pool.size, 1, "the first connection's compressor is still open");
    assert.deepEqual(await inflate(await send(sender, msgs[2]!)), msgs[2]);
    assert.equal(pool.size, 0, 'released: it went cold');
    // Its window is still the peer's: the repeat of a message just sent is a back-reference.
    const repeat = await send(sender, msgs[2]!);
    assert.ok(repeat.length < msgs[2]!.length / 4, `repeat took ${repeat.length} bytes`);
    assert.deepEqual(await inflate(repeat), msgs[2]);
    assert.equal(pool.size, 1, 'taken again: the connection is busy and nobody else compressed in between');
    for (const msg of msgs.slice(3)) assert.deepEqual(await inflate(await send(sender, msg)), msg);
  });

  it('a large message counts as COLD_MESSAGE_BYTES of traffic: ten connections of 8 KiB messages stay live', async () => {
    const pool = new CountingPool(16, new ManualClock());
    const senders = Array.from({ length: 10 }, () => new DeflateSender(15, true, CFG, pool));
    const peers = senders.map(() => peer());
    for (let round = 0; round < 3; round++) {
      const msgs = sized(senders.length, 4 * COLD_MESSAGE_BYTES, 70 + round);
      for (let i = 0; i < senders.length; i++)
        assert.deepEqual(await peers[i]!(await send(senders[i]!, msgs[i]!)), msgs[i]);
    }
    assert.equal(pool.size, senders.length);
    assert.equal(pool.acquired, senders.length, 'each taken once, on its second message, and kept');
  });

  it('small messages keep their compressor however much others compressed in between; a large one then does not', async () => {
    const { pool, sender, other, inflate } = twoSenders();
    const small = sized(4, COLD_MESSAGE_BYTES - 1, 60);
    for (const msg of small.slice(0, 2)) assert.deepEqual(await inflate(await send(sender, msg)), msg);
    assert.equal(pool.size, 1);
    const othersTraffic = async (): Promise<void> => {
      const before = pool.traffic;
      for (const msg of sized(Math.ceil(COLD_GAP_BYTES / COLD_MESSAGE_BYTES) + 1, COLD_MESSAGE_BYTES, 61))
        await send(other, msg);
      assert.ok(pool.traffic - before > COLD_GAP_BYTES);
    };
    await othersTraffic();
    assert.deepEqual(await inflate(await send(sender, small[2]!)), small[2]);
    assert.equal(pool.size, 2, 'the small sender kept its compressor; the busy other one has its own');
    await othersTraffic();
    // An empty message touches no state: it does not make the cold compressor look warm for the next one.
    assert.deepEqual(await inflate(await send(sender, Buffer.alloc(0))), Buffer.alloc(0));
    const large = sized(1, COLD_MESSAGE_BYTES, 62)[0]!;
    assert.deepEqual(await inflate(await send(sender, large)), large);
    assert.equal(pool.size, 1, 'released: cold, and large enough to miss');
    assert.deepEqual(await inflate(await send(sender, small[3]!)), small[3]);
  });

  it('pieces of a streamed message count as traffic too', async () => {
    const { pool, sender, other: streamer, inflate } = twoSenders();
    const msgs = sized(3, COLD_MESSAGE_BYTES, 63);
    for (const msg of msgs.slice(0, 2)) assert.deepEqual(await inflate(await send(sender, msg)), msg);
    assert.equal(pool.size, 1);
    const pieces = sized(Math.ceil(COLD_GAP_BYTES / COLD_MESSAGE_BYTES) + 1, COLD_MESSAGE_BYTES, 64);
    for (const [i, piece] of pieces.entries()) await streamer.streamChunk(piece, i === pieces.length - 1);
    assert.deepEqual(await inflate(await send(sender, msgs[2]!)), msgs[2]);
    assert.equal(pool.size, 0);
  });
});

/** Counts the compressors it hands out. */
class CountingPool extends LiveDeflatePool {
  acquired = 0;
  override acquire(options: LiveOptions): LiveDeflate | null {
    const live = super.acquire(options);
    if (live) this.acquired++;
    return live;
  }
}

/** Hands out compressors whose zlib fails on the first message, as it would out of memory. */
class FailingPool extends LiveDeflatePool {
  override acquire(options: LiveOptions): LiveDeflate | null {
    const live = super.acquire(options);
    if (live)
      live.compress = () => {
        throw new Error('zlib failed while compressing');
      };
    return live;
  }
}

describe('live compressors: failures and costs', () => {
  it('a compressor that fails is released and the message goes out one-shot, decodable', async () => {
    const pool = new FailingPool(4, new ManualClock());
    const inflate = peer();
    const sender = new DeflateSender(15, true, CFG, pool);
    for (const msg of lines(5, 9)) assert.deepEqual(await inflate(await send(sender, msg)), msg);
    assert.equal(pool.size, 0, 'no failed compressor is kept');
  });

  it('a run of refused messages does not open (and prime) a new zlib stream for each one', async () => {
    const pool = new CountingPool(4, new ManualClock());
    const sender = new DeflateSender(15, true, CFG, pool);
    const inflate = peer();
    const rand = prng(21);
    const first = Buffer.from(textOfSize(1500, rand));
    assert.deepEqual(await inflate(await send(sender, first)), first);
    // The peer stopped reading: the send queue compresses each message, then refuses it (never committed).
    for (let i = 0; i < 200; i++) sender.compress(Buffer.from(textOfSize(1500, rand)));
    assert.ok(pool.acquired <= 2, `${pool.acquired} zlib streams opened for 200 refused messages`);
    // Once messages go through again, they still decode, and a live compressor takes over again.
    for (let i = 0; i < 5; i++) {
      const msg = Buffer.from(textOfSize(1500, rand));
      assert.deepEqual(await inflate(await send(sender, msg)), msg);
    }
    assert.equal(pool.size, 1, 'a live compressor again once messages are committed');
  });

  it('one-shot payloads waiting to be written keep no 16 KiB zlib chunk alive each', async () => {
    const sender = new DeflateSender(15, true, CFG, new LiveDeflatePool(0));
    const inflate = peer();
    // Node 20 gives each result a buffer of its chunk size; Node 26 carves chunks out of shared 64 KiB slabs. Either
    // way the memory behind the queued payloads is what counts: all distinct buffers, over the payloads.
    const msgs = sized(40, COLD_MESSAGE_BYTES, 80);
    const payloads: Buffer[] = [];
    for (const msg of msgs) payloads.push(await send(sender, msg));
    for (const [i, payload] of payloads.entries()) assert.deepEqual(await inflate(payload), msgs[i]);
    const behind = [...new Set(payloads.map((p) => p.buffer))].reduce((sum, b) => sum + b.byteLength, 0);
    const each = behind / payloads.length;
    assert.ok(
      each < zlib.constants.Z_DEFAULT_CHUNK / 2,
      `${Math.round(each)} bytes behind each 2 KiB message's payload`,
    );
    // Incompressible input larger than its chunk still comes out whole.
    const rand = prng(81);
    const noise = Buffer.alloc(4096);
    for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(rand() * 256);
    assert.deepEqual(await inflate(await send(sender, noise)), noise);
  });

  it('an open compressor holds no 16 KiB stream output buffer (it writes into the shared scratch)', () => {
    const before = process.memoryUsage().arrayBuffers;
    const lives = Array.from({ length: 200 }, () => new LiveDeflate(OPTIONS));
    const perLive = (process.memoryUsage().arrayBuffers - before) / lives.length;
    for (const l of lives) l.close();
    assert.ok(perLive < 4096, `${Math.round(perLive)} bytes of ArrayBuffer per live compressor`);
  });
});
