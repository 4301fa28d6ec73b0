// Multi-node fan-out through Redis pub/sub (a HubAdapter): one channel per topic, joined only while the node has local
// subscribers; a small binary envelope (type, node id, sequence) keeps messages binary-safe, ordered and echo-free.
//
// Client: `redis` (node-redis, the official client), an optional peer dependency loaded only through the
// `switchboard/redis` subpath. We chose it over ioredis because its `reconnectStrategy` + `disableOfflineQueue` let this
// adapter own the outage buffer (ioredis queues offline commands without bound by default), it re-subscribes on its own
// after a reconnect, it hands pub/sub payloads over as Buffers (`bufferMode`), and it ships its own TypeScript types.
import { randomBytes } from 'node:crypto';
import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { createClient } from 'redis';
import type { HubAdapter, HubMessage } from '../hub.js';

/** How many messages published during an outage are kept for the reconnect; older ones are dropped beyond it. */
export const DEFAULT_MAX_BUFFERED = 1000;
/** The same bound in bytes (envelopes included). */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
export const DEFAULT_RECONNECT = { initialDelay: 50, maxDelay: 5000 } as const;
export const DEFAULT_CHANNEL_PREFIX = 'switchboard:';
/** How long close() waits for publishes in flight. */
export const CLOSE_TIMEOUT = 1000;

/** Published with `{ nodeId, error }` when the node loses Redis, and `{ nodeId, downtimeMs }` when it is back. */
export const redisDownChannel = diagnosticsChannel('switchboard:redis:down');
export const redisUpChannel = diagnosticsChannel('switchboard:redis:up');
/** Published with `{ nodeId, topic }` for each buffered message dropped because the outage buffer was full. */
export const redisOverflowChannel = diagnosticsChannel('switchboard:redis:overflow');

export interface RedisAdapterOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Prepended to a topic to name its Redis channel. All nodes of a cluster must agree on it. */
  channelPrefix?: string;
  /** Bound of the outage buffer, in messages (default 1000). On overflow the oldest is dropped and counted. */
  maxBuffered?: number;
  /** Bound of the outage buffer, in bytes (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Reconnect backoff: doubles from initialDelay up to maxDelay, with ±20 % jitter. */
  reconnect?: { initialDelay?: number; maxDelay?: number };
  /** Time allowed for one connection attempt, in ms (default 2000). */
  connectTimeout?: number;
}

export interface RedisAdapterStats {
  /** Messages this node sent to Redis. */
  published: number;
  /** Messages from other nodes handed to the hub. */
  received: number;
  /** This node's own messages coming back from Redis, dropped (the hub already delivered them locally). */
  echoesDropped: number;
  /** Repeats of an already delivered message (a publish retried after a reply was lost), dropped. */
  duplicatesDropped: number;
  /** Transitions from connected to disconnected. */
  outages: number;
  /** Transitions back to connected after an outage. */
  reconnects: number;
  /** Errors reported by the Redis clients (each failed reconnect attempt counts). */
  errors: number;
  /** Messages currently waiting in the outage buffer. */
  buffered: number;
  /** Messages that went through the outage buffer and were sent on reconnect. */
  flushed: number;
  /** Messages dropped because the outage buffer was full (oldest first). */
  overflowed: number;
  /** Malformed envelopes ignored. */
  malformed: number;
}

export interface RedisAdapterEvents {
  /** Redis was lost (the error that said so). Local delivery goes on; publishes are buffered. */
  down: [Error];
  /** Redis is back: channels re-subscribed, buffer flushed. */
  up: [];
}

/** The few node-redis client members this adapter uses (keeps its types small and its tests honest). */
interface RedisConn {
  readonly isReady: boolean;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'ready' | 'end' | 'reconnecting', fn: () => void): unknown;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  publish(channel: string, message: Buffer): Promise<number>;
  subscribe(channels: string[], listener: Listener, bufferMode: true): Promise<void>;
  unsubscribe(channels: string[], listener: Listener, bufferMode: true): Promise<void>;
}
type Listener = (message: Buffer, channel: Buffer) => void;

interface Pending {
  seq: number;
  channel: string;
  envelope: Buffer;
}

// Envelope: [0] version, [1] type (0 text, 1 binary), [2..18) node id, [18..24) sequence (uint48 BE), then the bytes.
const VERSION = 1;
const NODE_ID_BYTES = 16;
const HEADER = 2 + NODE_ID_BYTES + 6;
const MAX_SEEN_NODES = 4096;

export function encodeEnvelope(nodeId: Buffer, seq: number, msg: HubMessage): Buffer {
  const out = Buffer.allocUnsafe(HEADER + msg.data.length);
  out[0] = VERSION;
  out[1] = msg.type === 'text' ? 0 : 1;
  nodeId.copy(out, 2);
  out.writeUIntBE(seq, 2 + NODE_ID_BYTES, 6);
  msg.data.copy(out, HEADER);
  return out;
}

export function decodeEnvelope(buf: Buffer): { nodeId: Buffer; seq: number; msg: HubMessage } | null {
  if (buf.length < HEADER || buf[0] !== VERSION || (buf[1] !== 0 && buf[1] !== 1)) return null;
  return {
    nodeId: buf.subarray(2, 2 + NODE_ID_BYTES),
    seq: buf.readUIntBE(2 + NODE_ID_BYTES, 6),
    msg: { type: buf[1] === 0 ? 'text' : 'binary', data: buf.subarray(HEADER) },
  };
}

/** Checks a Redis URL and says what is wrong with it (for a CLI flag, say). */
export function parseRedisUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a URL: "${url}" (expected redis://host:port)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`unsupported scheme "${parsed.protocol}" in "${url}" (expected redis:// or rediss://)`);
  }
  if (parsed.hostname === '') throw new TypeError(`no host in "${url}"`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new TypeError(`the database in "${url}" must be a number, got "${db}"`);
  return parsed;
}

export class RedisAdapter extends EventEmitter<RedisAdapterEvents> implements HubAdapter {
  readonly stats: RedisAdapterStats = {
    published: 0,
    received: 0,
    echoesDropped: 0,
    duplicatesDropped: 0,
    outages: 0,
    reconnects: 0,
    errors: 0,
    buffered: 0,
    flushed: 0,
    overflowed: 0,
    malformed: 0,
  };
  /** Random per adapter: tells this node's messages apart when Redis sends them back. */
  readonly nodeId = randomBytes(NODE_ID_BYTES);
  readonly #url: string;
  readonly #prefix: string;
  readonly #maxBuffered: number;
  readonly #maxBufferedBytes: number;
  readonly #initialDelay: number;
  readonly #maxDelay: number;
  readonly #connectTimeout: number;
  #pub: RedisConn | null = null;
  #sub: RedisConn | null = null;
  #deliver: ((topic: string, msg: HubMessage) => void) | null = null;
  /** Topics this node has local subscribers for. */
  readonly #wanted = new Set<string>();
  /** Topics dropped while their UNSUBSCRIBE could not be sent: cleaned up on the next connect. */
  readonly #stale = new Set<string>();
  /** Outage buffer, in sequence order. */
  #buffer: Pending[] = [];
  #bufferedBytes = 0;
  #seq = 0;
  /** Highest sequence delivered per publishing node (drops duplicates, keeps each publisher's order). */
  readonly #seen = new Map<string, number>();
  #up = false;
  #downSince = 0;
  #closed = false;
  #firstUp: { promise: Promise<void>; resolve: () => void };

  constructor(options: RedisAdapterOptions = {}) {
    super();
    this.#url = options.url ?? 'redis://127.0.0.1:6379';
    parseRedisUrl(this.#url);
    this.#prefix = options.channelPrefix ?? DEFAULT_CHANNEL_PREFIX;
    this.#maxBuffered = intAtLeast('maxBuffered', options.maxBuffered ?? DEFAULT_MAX_BUFFERED, 0);
    this.#maxBufferedBytes = intAtLeast('maxBufferedBytes', options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, 0);
    this.#initialDelay = intAtLeast(
      'reconnect.initialDelay',
      options.reconnect?.initialDelay ?? DEFAULT_RECONNECT.initialDelay,
      1,
    );
    this.#maxDelay = intAtLeast('reconnect.maxDelay', options.reconnect?.maxDelay ?? DEFAULT_RECONNECT.maxDelay, 1);
    this.#connectTimeout = intAtLeast('connectTimeout', options.connectTimeout ?? 2000, 1);
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.#firstUp = { promise, resolve };
  }

  /** Whether both connections (publish and subscribe) are up. */
  get connected(): boolean {
    return this.#up;
  }

  /** Resolves the first time both connections are up (never rejects; Redis may be down at boot). */
  connectedOnce(): Promise<void> {
    return this.#firstUp.promise;
  }

  channelOf(topic: string): string {
    return this.#prefix + topic;
  }

  /** Opens both connections; resolves once they are up. Publishes before that are buffered. */
  start(deliver: (topic: string, msg: HubMessage) => void): Promise<void> {
    if (this.#deliver) throw new Error('the redis adapter is already started (one adapter per hub)');
    this.#deliver = deliver;
    this.#pub = this.#client();
    this.#sub = this.#client();
    for (const conn of [this.#pub, this.#sub]) {
      conn.on('ready', () => this.#onReady());
      conn.on('end', () => this.#onDown(new Error('redis connection closed')));
      conn.on('reconnecting', () => this.#onDown(new Error('redis connection lost')));
      conn.on('error', (err) => {
        this.stats.errors++;
        this.#onDown(err);
      });
      // connect() retries on its own (reconnectStrategy); its rejection only means we closed first.
      conn.connect().catch(() => {});
    }
    return this.#firstUp.promise;
  }

  subscribe(topic: string): Promise<void> | undefined {
    this.#wanted.add(topic);
    this.#stale.delete(topic);
    const sub = this.#sub;
    if (!sub?.isReady) return undefined; // done on (re)connect
    return sub.subscribe([this.channelOf(topic)], this.#onMessage, true).catch(() => {});
  }

  unsubscribe(topic: string): Promise<void> | undefined {
    this.#wanted.delete(topic);
    const sub = this.#sub;
    if (!sub?.isReady) {
      this.#stale.add(topic);
      return undefined;
    }
    return sub.unsubscribe([this.channelOf(topic)], this.#onMessage, true).catch(() => {
      this.#stale.add(topic);
    });
  }

  /** Sends at once when connected; otherwise buffers (bounded: the oldest is dropped on overflow). Never throws. */
  publish(topic: string, msg: HubMessage): void {
    if (this.#closed) return;
    const entry: Pending = {
      seq: ++this.#seq,
      channel: this.channelOf(topic),
      envelope: encodeEnvelope(this.nodeId, this.#seq, msg),
    };
    // While older messages wait, newer ones queue behind them: each publisher's order holds across an outage.
    if (!this.#up || this.#buffer.length > 0) this.#enqueue(entry);
    else this.#send(entry);
  }

  /** Lets publishes already sent complete (for at most `CLOSE_TIMEOUT` ms), then drops both connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#up = false;
    this.#buffer = [];
    this.#bufferedBytes = 0;
    this.stats.buffered = 0;
    this.#firstUp.resolve();
    await Promise.all(
      [this.#pub, this.#sub].map(async (conn) => {
        if (!conn) return;
        if (conn.isReady) {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, CLOSE_TIMEOUT);
          });
          await Promise.race([conn.close().catch(() => {}), timeout]);
          clearTimeout(timer);
        }
        conn.destroy();
      }),
    );
  }

  #client(): RedisConn {
    const initial = this.#initialDelay;
    const max = this.#maxDelay;
    return createClient({
      url: this.#url,
      // We buffer (bounded) ourselves; commands issued while offline fail at once instead of piling up in the client.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: this.#connectTimeout,
        reconnectStrategy: (retries: number) => {
          if (this.#closed) return false;
          const delay = Math.min(max, initial * 2 ** Math.min(retries, 20));
          return Math.round(delay * (0.8 + Math.random() * 0.4));
        },
      },
    }) as unknown as RedisConn;
  }

  #onReady(): void {
    if (this.#closed || !this.#pub?.isReady || !this.#sub?.isReady) return;
    const sub = this.#sub;
    // Re-subscribe what this node needs (node-redis restores what it knew; this covers topics added while down) and
    // leave what it no longer needs.
    const stale = [...this.#stale].filter((t) => !this.#wanted.has(t)).map((t) => this.channelOf(t));
    this.#stale.clear();
    if (stale.length > 0) sub.unsubscribe(stale, this.#onMessage, true).catch(() => {});
    const wanted = [...this.#wanted].map((t) => this.channelOf(t));
    if (wanted.length > 0) sub.subscribe(wanted, this.#onMessage, true).catch(() => {});
    const wasUp = this.#up;
    this.#up = true;
    const downtimeMs = this.#downSince ? Date.now() - this.#downSince : 0;
    if (this.#downSince) {
      this.stats.reconnects++;
      this.#downSince = 0;
      if (redisUpChannel.hasSubscribers) redisUpChannel.publish({ nodeId: this.nodeId.toString('hex'), downtimeMs });
    }
    // Flush in order; anything published from here on goes after it.
    this.#flush();
    this.#firstUp.resolve();
    if (!wasUp) this.emit('up');
  }

  #onDown(err: Error): void {
    if (this.#closed || !this.#up) return;
    this.#up = false;
    this.#downSince = Date.now();
    this.stats.outages++;
    if (redisDownChannel.hasSubscribers) redisDownChannel.publish({ nodeId: this.nodeId.toString('hex'), error: err });
    this.emit('down', err);
  }

  #send(entry: Pending): void {
    const pub = this.#pub;
    if (!pub?.isReady) {
      this.#onDown(new Error('redis connection not ready'));
      this.#enqueue(entry);
      return;
    }
    pub.publish(entry.channel, entry.envelope).then(
      () => {
        this.stats.published++;
      },
      () => {
        // Lost with the connection: back into the buffer at its place. If Redis did get it, subscribers drop the repeat.
        if (!this.#closed) this.#enqueue(entry);
      },
    );
  }

  #enqueue(entry: Pending): void {
    const buf = this.#buffer;
    let i = buf.length;
    while (i > 0 && buf[i - 1]!.seq > entry.seq) i--;
    buf.splice(i, 0, entry);
    this.#bufferedBytes += entry.envelope.length;
    while (buf.length > this.#maxBuffered || (this.#bufferedBytes > this.#maxBufferedBytes && buf.length > 0)) {
      const dropped = buf.shift()!;
      this.#bufferedBytes -= dropped.envelope.length;
      this.stats.overflowed++;
      if (redisOverflowChannel.hasSubscribers) {
        redisOverflowChannel.publish({
          nodeId: this.nodeId.toString('hex'),
          topic: dropped.channel.slice(this.#prefix.length),
        });
      }
    }
    this.stats.buffered = buf.length;
    // A send that failed after the connection came back (a race with 'ready') must not wait for the next outage.
    if (this.#up && this.#pub?.isReady) queueMicrotask(() => this.#flushIfUp());
  }

  #flushIfUp(): void {
    if (!this.#up || !this.#pub?.isReady || this.#buffer.length === 0) return;
    this.#flush();
  }

  /** Sends what the outage buffer holds, oldest first. */
  #flush(): void {
    const pending = this.#buffer;
    this.#buffer = [];
    this.#bufferedBytes = 0;
    this.stats.buffered = 0;
    for (const entry of pending) {
      this.stats.flushed++;
      this.#send(entry);
    }
  }

  readonly #onMessage = (message: Buffer, channel: Buffer): void => {
    const env = decodeEnvelope(message);
    if (!env) {
      this.stats.malformed++;
      return;
    }
    if (env.nodeId.equals(this.nodeId)) {
      this.stats.echoesDropped++;
      return;
    }
    const node = env.nodeId.toString('latin1');
    const last = this.#seen.get(node);
    if (last !== undefined && env.seq <= last) {
      this.stats.duplicatesDropped++;
      return;
    }
    this.#seen.delete(node); // re-inserted last: the Map stays in least-recently-heard order
    this.#seen.set(node, env.seq);
    if (this.#seen.size > MAX_SEEN_NODES) this.#seen.delete(this.#seen.keys().next().value!);
    const name = channel.toString('utf8');
    if (!name.startsWith(this.#prefix)) return;
    const topic = name.slice(this.#prefix.length);
    if (!this.#wanted.has(topic)) return;
    this.stats.received++;
    this.#deliver?.(topic, env.msg);
  };
}

/** `new Hub({ adapter: redisAdapter({ url }) })`: topics shared by every node on the same Redis. */
export function redisAdapter(options: RedisAdapterOptions | string = {}): RedisAdapter {
  return new RedisAdapter(typeof options === 'string' ? { url: options } : options);
}

function intAtLeast(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${name} must be a whole number ≥ ${min}, got ${value}`);
  return value;
}

export { type RedisHistoryOptions, RedisStreamHistory, redisHistory } from './redis-history.js';
