// Per-topic message history with monotonically increasing offsets, for recovery after a reconnect: the store interface
// the Hub uses, and the in-memory store (bounded by count, age and number of topics) used by default.
import type { HubMessage } from './hub-message.js';
import { intOption } from './validate.js';

/** One recorded message. Offsets of a topic are consecutive integers: a missing one means a lost message. */
export interface HistoryEntry {
  /** Its position in the topic's history. */
  offset: number;
  /** The message as recorded. */
  msg: HubMessage;
  /** When it was recorded, ms since the epoch. */
  time: number;
}

/** What `hub.recover(topic, since)` answers. */
export interface Recovery {
  /** What was recorded after the requested offset, oldest first (at most the store's maxCount). */
  messages: HistoryEntry[];
  /**
   * True when the requested offset is older than what is kept (trimmed by count or age, or the history was reset):
   * some messages in between are gone, and `messages` holds everything that is still kept.
   */
  gap: boolean;
  /** The topic's latest offset, or null when nothing is kept for it. */
  last: number | null;
}

/** Where a Hub records history. Offsets increase by exactly one per append within a topic. */
export interface HistoryStore {
  /** Records a message; returns its offset (one more than the topic's last). */
  append(topic: string, msg: HubMessage): number | Promise<number>;
  /** Messages after `since`; without `since`, every message still kept. */
  since(topic: string, since?: number): Recovery | Promise<Recovery>;
  /** From hub.close(): release connections and timers. */
  close?(): void | Promise<void>;
}

/** The options of {@link memoryHistory}. */
export interface MemoryHistoryOptions {
  /** Messages kept per topic (default 1000). */
  maxCount?: number;
  /** Messages older than this are forgotten, in ms (default 1 hour). */
  maxAgeMs?: number;
  /** Topics kept; the least recently written is forgotten beyond this (default 10 000). */
  maxTopics?: number;
  /** Injectable for tests. */
  now?: () => number;
}

export const DEFAULT_HISTORY_MAX_COUNT = 1000;
export const DEFAULT_HISTORY_MAX_AGE_MS = 60 * 60 * 1000;
export const DEFAULT_HISTORY_MAX_TOPICS = 10_000;

/**
 * The first offset of a topic's history is the current time in microseconds, not 1: offsets then keep increasing
 * when a history is forgotten and begun again (a restart, an idle topic trimmed by age), so a client holding an
 * offset from before is told `gap: true` instead of silently skipping the new messages.
 */
export function initialOffset(nowMs: number): number {
  return Math.floor(nowMs) * 1000;
}

interface Log {
  entries: HistoryEntry[];
  /** Index of the first live entry (trimming advances it; the array is compacted now and then). */
  head: number;
  last: number;
}

/** A {@link HistoryStore} in this process's memory (one node), bounded by count, age and number of topics. */
export class MemoryHistory implements HistoryStore {
  readonly #maxCount: number;
  readonly #maxAgeMs: number;
  readonly #maxTopics: number;
  readonly #now: () => number;
  readonly #logs = new Map<string, Log>();

  constructor(options: MemoryHistoryOptions = {}) {
    this.#maxCount = intOption('maxCount', options.maxCount, DEFAULT_HISTORY_MAX_COUNT);
    this.#maxAgeMs = intOption('maxAgeMs', options.maxAgeMs, DEFAULT_HISTORY_MAX_AGE_MS);
    this.#maxTopics = intOption('maxTopics', options.maxTopics, DEFAULT_HISTORY_MAX_TOPICS);
    this.#now = options.now ?? Date.now;
  }

  /** How many topics have history kept. */
  get topicCount(): number {
    return this.#logs.size;
  }

  /** Records a message; returns its offset. */
  append(topic: string, msg: HubMessage): number {
    const now = this.#now();
    let log = this.#logs.get(topic);
    if (log)
      this.#logs.delete(topic); // re-inserted last: the Map stays in least-recently-written order
    else log = { entries: [], head: 0, last: initialOffset(now) - 1 };
    this.#trim(log, now);
    const offset = ++log.last;
    log.entries.push({ offset, msg, time: now });
    this.#trim(log, now);
    this.#logs.set(topic, log);
    if (this.#logs.size > this.#maxTopics) this.#logs.delete(this.#logs.keys().next().value!);
    return offset;
  }

  since(topic: string, since?: number): Recovery {
    const log = this.#logs.get(topic);
    if (!log) return { messages: [], gap: since !== undefined, last: null };
    this.#trim(log, this.#now());
    const kept = log.entries.slice(log.head);
    return recoveryFrom(kept, log.last, since);
  }

  #trim(log: Log, now: number): void {
    const oldest = now - this.#maxAgeMs;
    while (
      log.head < log.entries.length &&
      (log.entries.length - log.head > this.#maxCount || log.entries[log.head]!.time < oldest)
    ) {
      log.head++;
    }
    if (log.head > 64 && log.head * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.head);
      log.head = 0;
    }
  }
}

/**
 * The recovery answer from the kept entries (oldest first) and the latest offset. Offsets are consecutive, so the
 * requested one is still covered exactly when the entry right after it is kept.
 */
export function recoveryFrom(kept: HistoryEntry[], last: number | null, since: number | undefined): Recovery {
  if (since === undefined) return { messages: kept, gap: false, last };
  if (last === null) return { messages: [], gap: true, last };
  if (since === last) return { messages: [], gap: false, last };
  if (since > last) return { messages: kept, gap: true, last }; // an offset from a history since forgotten
  const first = kept.findIndex((e) => e.offset > since);
  const messages = first < 0 ? [] : kept.slice(first);
  return { messages, gap: messages[0]?.offset !== since + 1, last };
}

/** `new Hub({ history: memoryHistory({ maxCount, maxAgeMs }) })`. */
export function memoryHistory(options: MemoryHistoryOptions = {}): MemoryHistory {
  return new MemoryHistory(options);
}
