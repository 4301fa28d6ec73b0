// The Redis adapter's outage buffer and its memory of recently acknowledged messages (src/adapters/redis-outbox.ts),
// on their own: sequence order kept whatever order entries come back in, bounds in bytes and count, the per-topic
// tally of what overflowed, and the resend window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outbox, type Pending, RecentlySent } from '../../src/adapters/redis-outbox.js';

function entry(seq: number, topic = 't', bytes = 10, acknowledged = false): Pending {
  return {
    seq,
    topic,
    topicSeq: seq,
    channel: `c:${topic}`,
    envelope: Buffer.alloc(bytes),
    marker: false,
    acknowledged,
  };
}
const seqs = (entries: Pending[]): number[] => entries.map((e) => e.seq);

describe('redis outbox', () => {
  it('keeps sequence order when a failed send comes back behind newer entries, and merges older ones in one pass', () => {
    const box = new Outbox(100, 1 << 20);
    for (const s of [2, 3, 5]) box.push(entry(s));
    box.push(entry(4)); // a retried send
    box.push(entry(1));
    assert.deepEqual(box.merge([entry(0), entry(6), entry(7)]), []);
    const { entries, dropped } = box.take();
    assert.deepEqual(seqs(entries), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(dropped.size, 0);
    assert.equal(box.size, 0);
    assert.equal(box.bytes, 0);
  });

  it('is bounded in bytes, counting each entry’s channel and a per-entry allowance, and in count; the oldest go', () => {
    const one = 10 + 'c:t'.length + 96;
    const byBytes = new Outbox(100, 3 * one);
    for (let s = 1; s <= 5; s++) byBytes.push(entry(s));
    assert.equal(byBytes.size, 3);
    assert.equal(byBytes.bytes, 3 * one);
    assert.deepEqual(seqs(byBytes.take().entries), [3, 4, 5]);
    const byCount = new Outbox(2, 1 << 20);
    const gone = [1, 2, 3, 4].flatMap((s) => byCount.push(entry(s)));
    assert.deepEqual(seqs(gone), [1, 2]);
    // Tiny messages: the allowance, not their bytes, is what fills the bound.
    const tiny = new Outbox(1_000_000, 1024 * 1024);
    for (let s = 1; s <= 20_000; s++) tiny.push(entry(s, 't', 0));
    assert.ok(tiny.size < 11_000, `${tiny.size} empty messages in 1 MiB`);
  });

  it('tallies per topic what overflowed, how many and the newest, and counts no loss for acknowledged entries', () => {
    const box = new Outbox(3, 1 << 20);
    box.merge([entry(1, 'x', 10, true), entry(2, 'y', 10, true)]);
    for (const [s, topic] of [
      [3, 'x'],
      [4, 'x'],
      [5, 'y'],
      [6, 'y'],
      [7, 'y'],
    ] as const)
      box.push(entry(s, topic));
    const { entries, dropped } = box.take();
    assert.deepEqual(seqs(entries), [5, 6, 7]);
    assert.deepEqual(
      [...dropped].map(([topic, d]) => [topic, d.missed, d.last.seq]),
      [
        ['x', 2, 4],
        ['y', 0, 2],
      ],
    );
  });

  it('remembers what was acknowledged within the window, up to its byte bound, oldest first', () => {
    const recent = new RecentlySent(1000, 1 << 20);
    for (let s = 1; s <= 5; s++) recent.add(entry(s), s * 400); // at 400, 800, ..., 2000
    assert.deepEqual(seqs(recent.take(2000)), [3, 4, 5], 'acknowledged at 1200 ms or later');
    assert.deepEqual(recent.take(2000), [], 'taken once');
    const small = new RecentlySent(10_000, 2 * (100 + 3 + 96));
    for (let s = 1; s <= 5; s++) small.add(entry(s, 't', 100), 0);
    assert.deepEqual(seqs(small.take(0)), [4, 5]);
    assert.deepEqual(seqs(new RecentlySent(1000, 1 << 20).take(0)), []);
  });
});
