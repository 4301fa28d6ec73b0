// Per-topic history in Redis Streams, shared by every node of a cluster: one stream per topic, trimmed with
// XADD MAXLEN ~ (count) and read-time filtering plus key expiry (age). Every call is bounded (redis-link.ts), and
// what is read back is checked: an entry anyone else wrote that is not a well-formed message is dropped and counted.
//
// Offsets: an INCR counter per topic, and the entry's stream id is `<offset>-0`. A Lua script does INCR + XADD at
// once, so the stream's order is the offsets' order whatever node appends, and XRANGE seeks by offset directly. A
// counter that does not exist (new topic, Redis restarted without persistence, idle topic expired) starts at the
// current time in µs, so offsets keep increasing across such a reset and an old offset reads as a gap.
import { isUtf8 } from 'node:buffer';
import { RESP_TYPES } from 'redis';
import type { HistoryEntry, HistoryStore, Recovery } from '../history.js';
import { DEFAULT_HISTORY_MAX_AGE_MS, DEFAULT_HISTORY_MAX_COUNT, recoveryFrom } from '../history.js';
import type { HubMessage } from '../hub-message.js';
import { CONNECTION_OPTION_KEYS, linkSettings, type RedisConnectionOptions, RedisLink } from './redis-link.js';
import { intOption } from '../validate.js';
import { nonEmptyString, redisOptions } from './redis-options.js';

/** The largest message recorded or read back, in bytes. */
export const DEFAULT_HISTORY_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** The options of {@link redisHistory}. */
export interface RedisHistoryOptions extends RedisConnectionOptions {
  /** Key prefix: `<prefix>h:<topic>` (stream) and `<prefix>o:<topic>` (counter). Default 'switchboard:'. */
  keyPrefix?: string;
  /** Entries kept per topic, approximately (MAXLEN ~); reads never return more. Default 1000. */
  maxCount?: number;
  /** Entries older than this are not returned, and a topic idle this long is deleted. Default 1 hour. */
  maxAgeMs?: number;
  /** Largest message, in bytes (default 16 MiB): a bigger append is refused, a bigger entry read back is dropped. */
  maxMessageSize?: number;
}

const OPTION_KEYS = [...CONNECTION_OPTION_KEYS, 'keyPrefix', 'maxCount', 'maxAgeMs', 'maxMessageSize'] as const;

/** The counters of a {@link RedisStreamHistory} (`history.stats`). */
export interface RedisHistoryStats {
  /** Errors reported by the Redis client (each failed connection attempt counts). */
  errors: number;
  /** Commands and connection attempts that got no answer in time. */
  timeouts: number;
  /** Entries (or counters) read back that were not what this store writes, dropped. */
  malformed: number;
}

const APPEND = `
local n = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if n == 1 then
  n = ms * 1000
  redis.call('SET', KEYS[1], string.format('%.0f', n))
end
local id = string.format('%.0f', n)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], id .. '-0', 'y', ARGV[3], 'd', ARGV[4], 't', string.format('%.0f', ms))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return id
`;

// Newest entries after ARGV[1] (at most ARGV[2]), and the counter; both read at one instant.
const SINCE = `
local last = redis.call('GET', KEYS[1])
local entries = redis.call('XREVRANGE', KEYS[2], '+', ARGV[1], 'COUNT', ARGV[2])
return { last or '', entries }
`;

/** A whole number written in decimal digits, or null. */
function whole(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * A {@link HistoryStore} in Redis Streams, shared by every node on the same Redis, made by {@link redisHistory}:
 * `new Hub({ adapter: redisAdapter(url), history: redisHistory({ url }) })`.
 */
export class RedisStreamHistory implements HistoryStore {
  /** Counters of errors, timeouts and malformed entries. */
  readonly stats: RedisHistoryStats = { errors: 0, timeouts: 0, malformed: 0 };
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #maxCount: number;
  readonly #maxAgeMs: number;
  readonly #maxMessageSize: number;

  constructor(options: RedisHistoryOptions = {}) {
    const o = redisOptions('RedisStreamHistory', options, OPTION_KEYS);
    const link = linkSettings(o);
    this.#prefix = nonEmptyString('keyPrefix', o.keyPrefix, 'switchboard:');
    this.#maxCount = intOption('maxCount', o.maxCount, DEFAULT_HISTORY_MAX_COUNT, 1);
    this.#maxAgeMs = intOption('maxAgeMs', o.maxAgeMs, DEFAULT_HISTORY_MAX_AGE_MS, 1);
    this.#maxMessageSize = intOption('maxMessageSize', o.maxMessageSize, DEFAULT_HISTORY_MAX_MESSAGE_SIZE, 1, 2 ** 32);
    this.#link = new RedisLink('history', link, { up: () => {}, down: () => {} }, this.stats);
    this.#link.start();
  }

  /** Whether the connection is up (calls fail at once while it is not). */
  get connected(): boolean {
    return this.#link.ready;
  }

  /** Resolves once connected the first time (never rejects; Redis may be down at boot). */
  ready(): Promise<void> {
    return this.#link.upOnce();
  }

  /** Records the message; rejects with a RedisError when Redis is unreachable or does not answer in time. */
  async append(topic: string, msg: HubMessage): Promise<number> {
    if (msg.data.length > this.#maxMessageSize) {
      throw new RangeError(`a ${msg.data.length}-byte message exceeds maxMessageSize (${this.#maxMessageSize})`);
    }
    if (msg.type === 'text' && !isUtf8(msg.data)) throw new TypeError('a text message must be valid UTF-8');
    const id = await this.#link.call(`history append to "${topic}"`, (c) =>
      c.sendCommand<string>([
        'EVAL',
        APPEND,
        '2',
        this.#key('o', topic),
        this.#key('h', topic),
        String(this.#maxCount),
        String(this.#maxAgeMs),
        msg.type === 'text' ? 't' : 'b',
        msg.data,
      ]),
    );
    const offset = Number(id);
    if (!Number.isSafeInteger(offset)) throw new Error(`history append to "${topic}": Redis answered "${id}"`);
    return offset;
  }

  async since(topic: string, since?: number): Promise<Recovery> {
    if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new RangeError(`bad offset ${since}`);
    const lowest = since === undefined ? '-' : `(${since}-0`;
    const reply = await this.#link.call(`history read of "${topic}"`, (c) =>
      c.sendCommand<unknown>(
        ['EVAL', SINCE, '2', this.#key('o', topic), this.#key('h', topic), lowest, String(this.#maxCount)],
        { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
      ),
    );
    const [lastRaw, raw] = Array.isArray(reply) ? reply : [];
    // An empty counter is a topic never written (or expired); anything else that is not a number was not written here.
    const last = Buffer.isBuffer(lastRaw) ? whole(lastRaw.toString('latin1')) : null;
    if (last === null && !(Buffer.isBuffer(lastRaw) && lastRaw.length === 0)) this.stats.malformed++;
    const oldest = Date.now() - this.#maxAgeMs;
    const kept: HistoryEntry[] = [];
    const entries: unknown[] = Array.isArray(raw) ? raw : [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = this.#toEntry(entries[i]);
      if (!entry) this.stats.malformed++;
      else if (entry.time >= oldest) kept.push(entry);
    }
    return recoveryFrom(kept, last, since);
  }

  /** Lets calls in flight finish (for at most `closeTimeout` ms), then drops the connection. */
  close(): Promise<void> {
    return this.#link.close();
  }

  #key(kind: 'h' | 'o', topic: string): string {
    return `${this.#prefix}${kind}:${topic}`;
  }

  /** One XREVRANGE entry as this store wrote it (`<offset>-0`, fields y, d, t), or null. */
  #toEntry(raw: unknown): HistoryEntry | null {
    if (!Array.isArray(raw) || raw.length !== 2) return null;
    const [id, fields] = raw as [unknown, unknown];
    if (!Buffer.isBuffer(id) || !Array.isArray(fields)) return null;
    const [head, seq] = id.toString('latin1').split('-');
    const offset = whole(head);
    if (seq !== '0' || offset === null) return null;
    let type: string | undefined;
    let data: Buffer | undefined;
    let time: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name: unknown = fields[i];
      const value: unknown = fields[i + 1];
      if (!Buffer.isBuffer(name) || !Buffer.isBuffer(value)) return null;
      const key = name.toString('latin1');
      if (key === 'y') type = value.toString('latin1');
      else if (key === 'd') data = value;
      else if (key === 't') time = value.toString('latin1');
    }
    const when = whole(time);
    if (!data || data.length > this.#maxMessageSize || when === null || (type !== 't' && type !== 'b')) return null;
    if (type === 't' && !isUtf8(data)) return null;
    return { offset, msg: { type: type === 't' ? 'text' : 'binary', data }, time: when };
  }
}

/** `new Hub({ history: redisHistory({ url, maxCount, maxAgeMs }) })`: history shared by every node. */
export function redisHistory(options: RedisHistoryOptions = {}): RedisStreamHistory {
  return new RedisStreamHistory(options);
}
