// The Redis adapter's outage buffer: messages waiting for Redis in the node's sequence order, bounded in bytes (with a
// per-entry allowance, so tiny messages are bounded too) and count, the oldest dropped and tallied per topic; and the
// messages Redis acknowledged a moment ago, sent again after an outage (RecentlySent).

export interface Pending {
  /** The node's sequence number (all topics): the buffer's order. */
  seq: number;
  topic: string;
  /** The node's sequence number within the topic. */
  topicSeq: number;
  channel: string;
  envelope: Buffer;
  /** A skip marker (stands for dropped messages of the topic), not a message. */
  marker: boolean;
  /** Redis has acknowledged it once already (it is being sent again after an outage). */
  acknowledged: boolean;
}

/** Messages of one topic dropped on overflow: how many, and the newest of them. */
export interface Dropped {
  missed: number;
  last: Pending;
}

/** What an entry costs beyond its bytes (the object, the Buffer header): a rough, deliberately generous figure. */
const ENTRY_OVERHEAD = 96;

export class Outbox {
  readonly #maxCount: number;
  readonly #maxBytes: number;
  #entries: Pending[] = [];
  #bytes = 0;
  #dropped = new Map<string, Dropped>();

  constructor(maxCount: number, maxBytes: number) {
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#entries.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Channels of the waiting messages, each once. */
  channels(): string[] {
    return [...new Set(this.#entries.map((e) => e.channel))];
  }

  /** Adds `entry` at its place in sequence order (a retried send goes back before newer ones); returns what overflowed. */
  push(entry: Pending): Pending[] {
    const entries = this.#entries;
    let i = entries.length;
    while (i > 0 && entries[i - 1]!.seq > entry.seq) i--;
    entries.splice(i, 0, entry);
    this.#bytes += cost(entry);
    return this.#trim();
  }

  /** Adds entries (in sequence order) at their places in one pass; returns what overflowed. */
  merge(sorted: Pending[]): Pending[] {
    if (sorted.length === 0) return [];
    const mine = this.#entries;
    const merged: Pending[] = [];
    let i = 0;
    let j = 0;
    while (i < mine.length || j < sorted.length) {
      if (j === sorted.length || (i < mine.length && mine[i]!.seq < sorted[j]!.seq)) merged.push(mine[i++]!);
      else merged.push(sorted[j++]!);
    }
    this.#entries = merged;
    for (const entry of sorted) this.#bytes += cost(entry);
    return this.#trim();
  }

  #trim(): Pending[] {
    const entries = this.#entries;
    const overflowed: Pending[] = [];
    while (entries.length > 0 && (entries.length > this.#maxCount || this.#bytes > this.#maxBytes)) {
      const gone = entries.shift()!;
      this.#bytes -= cost(gone);
      overflowed.push(gone);
      // A marker or a message sent once already is no loss of its own (the tally's `last` still moves on).
      const missed = gone.marker || gone.acknowledged ? 0 : 1;
      const tally = this.#dropped.get(gone.topic);
      if (!tally) this.#dropped.set(gone.topic, { missed, last: gone });
      else {
        tally.missed += missed;
        if (gone.seq > tally.last.seq) tally.last = gone;
      }
    }
    return overflowed;
  }

  /** Empties the buffer: the waiting messages, oldest first, and the overflow tally since the last take. */
  take(): { entries: Pending[]; dropped: Map<string, Dropped> } {
    const out = { entries: this.#entries, dropped: this.#dropped };
    this.#entries = [];
    this.#bytes = 0;
    this.#dropped = new Map();
    return out;
  }
}

/**
 * Messages Redis acknowledged within the last `windowMs` (at most `maxBytes` of them), oldest first. An acknowledged
 * PUBLISH is not a delivered one: when Redis dies, what it wrote to a subscriber's socket but the subscriber had not
 * read yet can be lost with the connection's reset. So when the publish connection is lost these go out again with
 * the buffer; receivers drop the ones they had by sequence number.
 */
export class RecentlySent {
  readonly #windowMs: number;
  readonly #maxBytes: number;
  #entries: Array<{ at: number; entry: Pending }> = [];
  #head = 0;
  #bytes = 0;

  constructor(windowMs: number, maxBytes: number) {
    this.#windowMs = windowMs;
    this.#maxBytes = maxBytes;
  }

  /** `entry` was acknowledged at clock time `now` (acknowledgements come in sequence order). */
  add(entry: Pending, now: number): void {
    this.#entries.push({ at: now, entry });
    this.#bytes += cost(entry);
    const entries = this.#entries;
    while (
      this.#head < entries.length &&
      (this.#bytes > this.#maxBytes || entries[this.#head]!.at < now - this.#windowMs)
    ) {
      this.#bytes -= cost(entries[this.#head]!.entry);
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The entries acknowledged within the window before `now`, oldest first; forgets them all. */
  take(now: number): Pending[] {
    const out = this.#entries
      .slice(this.#head)
      .filter((e) => e.at >= now - this.#windowMs)
      .map((e) => e.entry);
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
    return out;
  }
}

function cost(entry: Pending): number {
  return entry.envelope.length + entry.channel.length + ENTRY_OVERHEAD;
}
