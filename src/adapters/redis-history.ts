// Per-topic history in Redis Streams, shared by every node of a cluster: one stream per topic, trimmed with
// XADD MAXLEN ~ (count) and read-time filtering plus key expiry (age).
//
// Offsets: an INCR counter per topic, and the entry's stream id is `<offset>-0`. A Lua script does INCR + XADD at
// once, so the stream's order is the offsets' order whatever node appends, and XRANGE seeks by offset directly. A
// counter that does not exist (new topic, Redis restarted without persistence, idle topic expired) starts at the
// current time in µs, so offsets keep increasing across such a reset and an old offset reads as a gap.
import { createClient, RESP_TYPES } from 'redis';
import type { HistoryEntry, HistoryStore, Recovery } from '../history.js';
import { DEFAULT_HISTORY_MAX_AGE_MS, DEFAULT_HISTORY_MAX_COUNT, recoveryFrom } from '../history.js';
import type { HubMessage } from '../hub.js';

export interface RedisHistoryOptions {
  /** Default redis://127.0.0.1:6379. */
  url?: string;
  /** Key prefix: `<prefix>h:<topic>` (stream) and `<prefix>o:<topic>` (counter). Default 'switchboard:'. */
  keyPrefix?: string;
  /** Entries kept per topic, approximately (MAXLEN ~); reads never return more. Default 1000. */
  maxCount?: number;
  /** Entries older than this are not returned, and a topic idle this long is deleted. Default 1 hour. */
  maxAgeMs?: number;
  connectTimeout?: number;
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

interface RedisCmd {
  readonly isReady: boolean;
  on(event: 'error', fn: (err: Error) => void): unknown;
  connect(): Promise<unknown>;
  destroy(): void;
  sendCommand<T>(args: ReadonlyArray<string | Buffer>, options?: { typeMapping?: Record<number, unknown> }): Promise<T>;
}

type RawEntry = [Buffer, Buffer[]];

export class RedisStreamHistory implements HistoryStore {
  readonly #client: RedisCmd;
  readonly #prefix: string;
  readonly #maxCount: number;
  readonly #maxAgeMs: number;
  readonly #connected: Promise<unknown>;
  /** Errors reported by the client (each failed reconnect attempt counts). */
  errors = 0;

  constructor(options: RedisHistoryOptions = {}) {
    this.#prefix = options.keyPrefix ?? 'switchboard:';
    this.#maxCount = options.maxCount ?? DEFAULT_HISTORY_MAX_COUNT;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_HISTORY_MAX_AGE_MS;
    for (const [name, v] of [
      ['maxCount', this.#maxCount],
      ['maxAgeMs', this.#maxAgeMs],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a whole number ≥ 1, got ${v}`);
    }
    this.#client = createClient({
      url: options.url ?? 'redis://127.0.0.1:6379',
      disableOfflineQueue: true, // an append during an outage fails at once; it never piles up
      socket: {
        connectTimeout: options.connectTimeout ?? 2000,
        reconnectStrategy: (retries: number) => Math.min(5000, 50 * 2 ** Math.min(retries, 10)),
      },
    }) as unknown as RedisCmd;
    this.#client.on('error', () => {
      this.errors++;
    });
    this.#connected = this.#client.connect().catch(() => {});
  }

  /** Resolves once connected the first time. */
  async ready(): Promise<void> {
    await this.#connected;
  }

  async append(topic: string, msg: HubMessage): Promise<number> {
    const id = await this.#client.sendCommand<string>([
      'EVAL',
      APPEND,
      '2',
      this.#key('o', topic),
      this.#key('h', topic),
      String(this.#maxCount),
      String(this.#maxAgeMs),
      msg.type === 'text' ? 't' : 'b',
      msg.data,
    ]);
    return Number(id);
  }

  async since(topic: string, since?: number): Promise<Recovery> {
    if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new RangeError(`bad offset ${since}`);
    const lowest = since === undefined ? '-' : `(${since}-0`;
    const [lastRaw, raw] = await this.#client.sendCommand<[Buffer, RawEntry[]]>(
      ['EVAL', SINCE, '2', this.#key('o', topic), this.#key('h', topic), lowest, String(this.#maxCount)],
      { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
    );
    const last = lastRaw.length === 0 ? null : Number(lastRaw.toString());
    const oldest = Date.now() - this.#maxAgeMs;
    const kept: HistoryEntry[] = [];
    for (let i = raw.length - 1; i >= 0; i--) {
      const entry = toEntry(raw[i]!);
      if (entry && entry.time >= oldest) kept.push(entry);
    }
    return recoveryFrom(kept, last, since);
  }

  close(): void {
    this.#client.destroy();
  }

  #key(kind: 'h' | 'o', topic: string): string {
    return `${this.#prefix}${kind}:${topic}`;
  }
}

function toEntry([id, fields]: RawEntry): HistoryEntry | null {
  let type: Buffer | undefined;
  let data: Buffer | undefined;
  let time: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    if (name === 'y') type = fields[i + 1];
    else if (name === 'd') data = fields[i + 1];
    else if (name === 't') time = fields[i + 1];
  }
  if (!type || !data || !time) return null;
  const offset = Number(id.toString().split('-')[0]);
  return { offset, msg: { type: type.toString() === 't' ? 'text' : 'binary', data }, time: Number(time.toString()) };
}

/** `new Hub({ history: redisHistory({ url, maxCount, maxAgeMs }) })`: history shared by every node. */
export function redisHistory(options: RedisHistoryOptions = {}): RedisStreamHistory {
  return new RedisStreamHistory(options);
}
