/**
 * `switchboard/redis`: topics shared by every node through Redis pub/sub (a HubAdapter for the Hub), and a history
 * in Redis Streams for recovery across nodes. Needs the `redis` package (an optional peer dependency).
 *
 * @module switchboard/redis
 */
// Multi-node fan-out through Redis pub/sub (a HubAdapter): one channel per topic, joined only while the node has local
// subscribers; an envelope (redis-envelope.ts) keeps messages binary-safe, ordered, echo-free and numbered per topic,
// so a receiver sees what it missed. Publishes wait in a bounded buffer (redis-outbox.ts) while Redis is away.
//
// Client: `redis` (node-redis, the official client), an optional peer dependency loaded only through the
// `switchboard/redis` subpath. We chose it over ioredis because `disableOfflineQueue` lets this adapter own the outage
// buffer (ioredis queues offline commands without bound by default), it hands pub/sub payloads over as Buffers
// (`bufferMode`), and it ships its own TypeScript types. Reconnects, timeouts and health checks are ours
// (redis-link.ts), on the injected clock.
import { randomBytes } from 'node:crypto';
import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { isUtf8 } from 'node:buffer';
import { ErrorReply } from 'redis';
import type { Clock } from '../clock.js';
import type { GapInfo, HubAdapter } from '../hub.js';
import type { HubMessage } from '../hub-message.js';
import { decodeEnvelope, encodeEnvelope, NODE_ID_BYTES } from './redis-envelope.js';
import { isRedisTimeout } from './redis-errors.js';
import { CONNECTION_OPTION_KEYS, linkSettings, type RedisConnectionOptions, RedisLink } from './redis-link.js';
import { intOption } from '../validate.js';
import { nonEmptyString, redisOptions } from './redis-options.js';
import { Outbox, type Pending, RecentlySent } from './redis-outbox.js';

/** How many messages the outage buffer holds at most (the byte bound is usually reached first). */
export const DEFAULT_MAX_BUFFERED = 100_000;
/** The outage buffer's bound in bytes: envelopes, channel names and a per-message allowance. */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** The largest message sent or accepted through Redis, in bytes (beyond it: refused on publish, dropped on receipt). */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** After a reconnect, how long the buffer may wait for other nodes to subscribe again before it is flushed anyway. */
export const DEFAULT_RESUBSCRIBE_WAIT = 1000;
/** What a topic's Redis channel name starts with, by default. */
export const DEFAULT_CHANNEL_PREFIX = 'switchboard:';

/** `switchboard:redis:down`, published with `{ nodeId, error }` when the node loses Redis. */
export const redisDownChannel = diagnosticsChannel('switchboard:redis:down');
/** `switchboard:redis:up`, published with `{ nodeId, downtimeMs }` when the node has Redis back. */
export const redisUpChannel = diagnosticsChannel('switchboard:redis:up');
/** `switchboard:redis:overflow`, published with `{ nodeId, topic }` for each buffered message dropped (buffer full). */
export const redisOverflowChannel = diagnosticsChannel('switchboard:redis:overflow');

/** The options of {@link redisAdapter}: where Redis is, how to reach it, and the outage buffer's bounds. */
export interface RedisAdapterOptions extends RedisConnectionOptions {
  /** Prepended to a topic to name its Redis channel. All nodes of a cluster must agree on it. */
  channelPrefix?: string;
  /** Bound of the outage buffer, in messages (default 100 000). On overflow the oldest is dropped and counted. */
  maxBuffered?: number;
  /** Bound of the outage buffer, in bytes (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Largest message, in bytes (default 16 MiB): a bigger publish throws a RangeError, a bigger arrival is dropped. */
  maxMessageSize?: number;
  /**
   * After a reconnect, the buffer is flushed once every channel it holds has as many subscribers as its last publish
   * reached (other nodes cut off by the same outage have subscribed again: pub/sub does not replay), or after this
   * many ms (default 1000).
   */
  resubscribeWait?: number;
}

const OPTION_KEYS = [
  ...CONNECTION_OPTION_KEYS,
  'channelPrefix',
  'maxBuffered',
  'maxBufferedBytes',
  'maxMessageSize',
  'resubscribeWait',
] as const;

/** The counters of a {@link RedisAdapter} (`adapter.stats`). */
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
  /**
   * Errors reported by the Redis clients (each failed connection attempt counts), publishes Redis refused with an
   * error reply (given up when it would refuse them again, an ACL's NOPERM; retried after `reconnect.initialDelay`
   * when it is only busy: BUSY, LOADING and the like), and channels it refused when subscribing again after a
   * reconnect.
   */
  errors: number;
  /** Commands and connection attempts that got no answer in time (each replaced its connection). */
  timeouts: number;
  /** Messages currently waiting in the outage buffer. */
  buffered: number;
  /** Messages that went through the outage buffer and were sent on reconnect. */
  flushed: number;
  /** Messages acknowledged by Redis just before an outage and sent again after it, to be safe (see RecentlySent). */
  resent: number;
  /** Messages dropped because the outage buffer was full (oldest first). */
  overflowed: number;
  /** Envelopes dropped on arrival: malformed, too big, or text that is not UTF-8. */
  malformed: number;
  /** Gaps reported to the hub (see GapInfo). */
  gaps: number;
}

/** The events of a {@link RedisAdapter}. */
export interface RedisAdapterEvents {
  /** Redis was lost (the error that said so). Local delivery goes on; publishes are buffered. */
  down: [Error];
  /** Redis is back: channels subscribed again, buffer flushed (or flushing). */
  up: [];
}

/** What goes out again after the publish connection is lost: messages acknowledged this recently, this many bytes. */
const RESEND_WINDOW_MS = 1000;
const RESEND_MAX_BYTES = 1024 * 1024;
/** Nodes, topics and channels remembered at most, each map dropping the least recently used beyond it. */
const MAX_TRACKED = 65_536;
const MAX_NODES_PER_TOPIC = 4096;
const NUMSUB_POLL = 25;
/** Error replies a Redis gives while it is busy for a while (a long script, loading its data set, a failover). */
const TRANSIENT_REPLY = /^(BUSY|LOADING|TRYAGAIN|MASTERDOWN|CLUSTERDOWN)\b/;

/**
 * A HubAdapter over Redis pub/sub, made by {@link redisAdapter}: `new Hub({ adapter: redisAdapter({ url }) })`.
 * While Redis is away local delivery goes on, publishes wait in a bounded buffer, and the hub hears of every gap.
 */
export class RedisAdapter extends EventEmitter<RedisAdapterEvents> implements HubAdapter {
  /** Counters of traffic, outages and drops. */
  readonly stats: RedisAdapterStats = {
    published: 0,
    received: 0,
    echoesDropped: 0,
    duplicatesDropped: 0,
    outages: 0,
    reconnects: 0,
    errors: 0,
    timeouts: 0,
    buffered: 0,
    flushed: 0,
    resent: 0,
    overflowed: 0,
    malformed: 0,
    gaps: 0,
  };
  /** Random per adapter: tells this node's messages apart when Redis sends them back. */
  readonly nodeId = randomBytes(NODE_ID_BYTES);
  readonly #prefix: string;
  readonly #maxMessageSize: number;
  readonly #resubscribeWait: number;
  readonly #retryDelay: number;
  /** A flush waiting after a transient error reply (not at once: Redis would only say the same again). */
  #retryTimer: unknown = null;
  readonly #clock: Clock;
  readonly #pub: RedisLink;
  readonly #sub: RedisLink;
  readonly #outbox: Outbox;
  readonly #recent = new RecentlySent(RESEND_WINDOW_MS, RESEND_MAX_BYTES);
  #deliver: ((topic: string, msg: HubMessage) => void) | null = null;
  #onGap: ((topic: string, info: GapInfo) => void) | null = null;
  /** Topics this node has local subscribers for. */
  readonly #wanted = new Set<string>();
  #seq = 0;
  /** This node's last sequence number per topic. */
  readonly #topicSeq = new Map<string, number>();
  /** Highest sequence number delivered per publishing node (drops repeats, keeps each publisher's order). */
  readonly #seen = new Map<string, number>();
  /** Per wanted topic, the last topic sequence number heard from each node: a jump is a gap. */
  readonly #heard = new Map<string, Map<string, number>>();
  /** Subscribers the last PUBLISH of each channel reached, for the wait before a flush. */
  readonly #receivers = new Map<string, number>();
  /** While a flush waits for other nodes to subscribe again, new publishes queue behind the buffer. */
  #flushing = false;
  #connected = false;
  /** Clock time of the outage's start, null while connected (or before the first connect). */
  #downSince: number | null = null;
  #closed = false;

  constructor(options: RedisAdapterOptions = {}) {
    super();
    const o = redisOptions('RedisAdapter', options, OPTION_KEYS);
    const link = linkSettings(o);
    this.#clock = link.clock;
    this.#retryDelay = link.initialDelay;
    this.#prefix = nonEmptyString('channelPrefix', o.channelPrefix, DEFAULT_CHANNEL_PREFIX);
    this.#outbox = new Outbox(
      intOption('maxBuffered', o.maxBuffered, DEFAULT_MAX_BUFFERED, 0),
      intOption('maxBufferedBytes', o.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES, 0),
    );
    this.#maxMessageSize = intOption('maxMessageSize', o.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1, 2 ** 32);
    this.#resubscribeWait = intOption('resubscribeWait', o.resubscribeWait, DEFAULT_RESUBSCRIBE_WAIT, 0, 3_600_000);
    this.#pub = new RedisLink(
      'publish',
      link,
      { up: () => this.#onPubUp(), down: (e) => this.#onPubDown(e) },
      this.stats,
    );
    this.#sub = new RedisLink(
      'subscribe',
      link,
      { up: () => this.#onSubUp(), down: (e) => this.#onDown(e) },
      this.stats,
    );
  }

  /** Whether both connections (publish and subscribe) are up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Resolves the first time both connections are up (never rejects; Redis may be down at boot). */
  async connectedOnce(): Promise<void> {
    await Promise.all([this.#pub.upOnce(), this.#sub.upOnce()]);
  }

  /** The Redis channel of a topic: the channel prefix, then the topic. */
  channelOf(topic: string): string {
    return this.#prefix + topic;
  }

  /** Opens both connections; resolves once they are up. Publishes before that are buffered. */
  start(
    deliver: (topic: string, msg: HubMessage) => void,
    gap?: (topic: string, info: GapInfo) => void,
  ): Promise<void> {
    if (this.#deliver) throw new Error('the redis adapter is already started (one adapter per hub)');
    this.#deliver = deliver;
    this.#onGap = gap ?? null;
    this.#pub.start();
    this.#sub.start();
    return this.connectedOnce();
  }

  /**
   * Joins the topic's channel. Rejects when Redis does not answer (ERR_REDIS_TIMEOUT: it is retried anyway) or
   * refuses (its error reply, such as an ACL's NOPERM).
   */
  async subscribe(topic: string): Promise<void> {
    this.#wanted.add(topic);
    if (!this.#sub.ready) return; // done on (re)connect
    await this.#join([topic]).catch(onlyTimeouts);
  }

  /** One SUBSCRIBE for the topics' channels, on the subscribe connection. */
  #join(topics: string[]): Promise<void> {
    const channels = topics.map((t) => this.channelOf(t));
    const what = channels.length === 1 ? channels[0] : `${channels.length} channel(s)`;
    return this.#sub.call(`SUBSCRIBE ${what}`, (c) => c.subscribe(channels, this.#onMessage, true));
  }

  /** Leaves the topic's channel (nothing to do while Redis is away: a new connection starts with none). */
  async unsubscribe(topic: string): Promise<void> {
    this.#wanted.delete(topic);
    this.#heard.delete(topic);
    // While down there is nothing to leave: each connection starts without subscriptions.
    if (!this.#sub.ready) return;
    await this.#sub
      .call(`UNSUBSCRIBE ${this.channelOf(topic)}`, (c) =>
        c.unsubscribe([this.channelOf(topic)], this.#onMessage, true),
      )
      .catch(onlyTimeouts);
  }

  /**
   * Sends at once when connected; otherwise buffers (bounded: the oldest is dropped on overflow). Throws a RangeError
   * for a message over `maxMessageSize` and a TypeError for text that is not UTF-8 (other nodes would drop them).
   */
  publish(topic: string, msg: HubMessage): void {
    if (this.#closed) return;
    if (msg.data.length > this.#maxMessageSize) {
      throw new RangeError(`a ${msg.data.length}-byte message exceeds maxMessageSize (${this.#maxMessageSize})`);
    }
    if (msg.type === 'text' && !isUtf8(msg.data)) throw new TypeError('a text message must be valid UTF-8');
    const topicSeq = (this.#topicSeq.get(topic) ?? 0) + 1;
    remember(this.#topicSeq, topic, topicSeq, MAX_TRACKED);
    const seq = ++this.#seq;
    const entry: Pending = {
      seq,
      topic,
      topicSeq,
      channel: this.channelOf(topic),
      envelope: encodeEnvelope(this.nodeId, seq, topicSeq, msg),
      marker: false,
      acknowledged: false,
    };
    // While older messages wait, newer ones queue behind them: each publisher's order holds across an outage.
    if (!this.#pub.ready || this.#flushing || this.#outbox.size > 0) this.#enqueue(entry);
    else this.#send(entry);
  }

  /** Lets publishes already sent complete (for at most `closeTimeout` ms), then drops both connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#connected = false;
    this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#outbox.take();
    this.stats.buffered = 0;
    await Promise.all([this.#pub.close(), this.#sub.close()]);
  }

  #onSubUp(): void {
    // A fresh connection has no subscriptions: join every wanted channel. Whatever was published on them while this
    // node was not subscribed is gone (pub/sub does not replay): say so for each once subscribed again, so that an app
    // reading its history on that signal misses nothing in between.
    const topics = [...this.#wanted];
    if (topics.length > 0) {
      const joined = (these: string[]): void => {
        for (const topic of these) if (this.#wanted.has(topic)) this.#gap(topic, { reason: 'reconnect', missed: null });
      };
      this.#join(topics).then(
        () => joined(topics),
        (err: unknown) => {
          // A lost connection is replaced, and this runs again. An error reply (an ACL refusing one of the channels)
          // refuses the whole command: join the channels one by one, so one topic cannot cut off all; each refusal
          // counts in stats.errors (the topic's own subscribe() already reported it to the hub).
          if (!(err instanceof ErrorReply) || topics.length === 1) return;
          for (const topic of topics) {
            if (!this.#wanted.has(topic)) continue;
            this.#join([topic]).then(
              () => joined([topic]),
              (refused: unknown) => {
                if (refused instanceof ErrorReply) this.stats.errors++;
              },
            );
          }
        },
      );
    }
    this.#onLinkUp();
  }

  #onPubUp(): void {
    this.#onLinkUp();
    if (this.#outbox.size > 0) void this.#flushWhenResubscribed();
  }

  #onLinkUp(): void {
    if (this.#closed || this.#connected || !this.#pub.ready || !this.#sub.ready) return;
    this.#connected = true;
    if (this.#downSince !== null) {
      const downtimeMs = Math.round(this.#clock.now() - this.#downSince);
      this.#downSince = null;
      this.stats.reconnects++;
      if (redisUpChannel.hasSubscribers) redisUpChannel.publish({ nodeId: this.nodeId.toString('hex'), downtimeMs });
    }
    this.emit('up');
  }

  #onPubDown(err: Error): void {
    this.#counted(this.#outbox.merge(this.#recent.take(this.#clock.now())));
    this.#onDown(err);
  }

  #onDown(err: Error): void {
    if (this.#closed || !this.#connected) return;
    this.#connected = false;
    this.#downSince = this.#clock.now();
    this.stats.outages++;
    if (redisDownChannel.hasSubscribers) redisDownChannel.publish({ nodeId: this.nodeId.toString('hex'), error: err });
    this.emit('down', err);
  }

  #send(entry: Pending): void {
    this.#pub
      .call(`PUBLISH to ${entry.channel}`, (c) => c.publish(entry.channel, entry.envelope))
      .then(
        (receivers) => {
          if (entry.acknowledged) this.stats.resent++;
          else if (!entry.marker) this.stats.published++;
          entry.acknowledged = true;
          remember(this.#receivers, entry.channel, receivers, MAX_TRACKED);
          this.#recent.add(entry, this.#clock.now());
        },
        (err: unknown) => {
          if (this.#closed) return;
          if (err instanceof ErrorReply) {
            // Redis answered, with an error. One it would give every retry (an ACL refusing the channel, say) gives
            // the message up instead of retrying it for ever at network speed; other nodes see the jump in this
            // node's numbering of the topic as a gap. A passing one (BUSY, LOADING...) is retried after a delay.
            this.stats.errors++;
            if (!TRANSIENT_REPLY.test(err.message)) return;
            this.#outbox.push(entry);
            this.stats.buffered = this.#outbox.size;
            if (this.#retryTimer === null) {
              this.#retryTimer = this.#clock.setTimeout(() => {
                this.#retryTimer = null;
                this.#flushIfUp();
              }, this.#retryDelay);
            }
            return;
          }
          // Lost with the connection (or timed out, which replaced it): back into the buffer at its place. If Redis did
          // get it, receivers drop the repeat by its sequence number.
          this.#enqueue(entry);
        },
      );
  }

  #enqueue(entry: Pending): void {
    this.#counted(this.#outbox.push(entry));
  }

  /** Counts what the buffer let go on overflow, and flushes what it holds if the connection is (again) up. */
  #counted(overflowed: Pending[]): void {
    for (const gone of overflowed) {
      if (gone.marker || gone.acknowledged) continue; // no message lost with it
      this.stats.overflowed++;
      if (redisOverflowChannel.hasSubscribers) {
        redisOverflowChannel.publish({ nodeId: this.nodeId.toString('hex'), topic: gone.topic });
      }
    }
    this.stats.buffered = this.#outbox.size;
    // A send that failed after the connection came back (a race with 'up') must not wait for the next outage.
    if (this.#pub.ready && !this.#flushing) queueMicrotask(() => this.#flushIfUp());
  }

  #flushIfUp(): void {
    if (this.#pub.ready && !this.#flushing && this.#outbox.size > 0) this.#flush();
  }

  /**
   * Nodes cut off by the same outage (a Redis restart) come back at about the same time, but a message flushed before
   * one of them has subscribed again never reaches it. So wait — bounded by `resubscribeWait` — until each buffered
   * channel has as many subscribers as its last publish reached, then flush.
   */
  async #flushWhenResubscribed(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    const deadline = this.#clock.now() + this.#resubscribeWait;
    try {
      for (;;) {
        const waiting = this.#outbox.channels().filter((c) => (this.#receivers.get(c) ?? 0) > 0);
        if (waiting.length === 0) break;
        const counts = await this.#pub.call('PUBSUB NUMSUB', (c) => c.pubSubNumSub(waiting));
        if (waiting.every((c) => (counts[c] ?? 0) >= this.#receivers.get(c)!)) break;
        if (this.#clock.now() >= deadline) break;
        await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, NUMSUB_POLL));
        if (!this.#pub.ready || this.#closed) return;
      }
    } catch {
      // The connection went again: the buffer waits for the next one. (Any other failure, say an ACL refusing PUBSUB,
      // just ends the wait: the flush below goes ahead.)
    } finally {
      this.#flushing = false;
    }
    this.#flushIfUp();
  }

  /** Sends what the outage buffer holds, oldest first, after a skip marker for each topic it dropped messages of. */
  #flush(): void {
    const { entries, dropped } = this.#outbox.take();
    this.stats.buffered = 0;
    const markers: Pending[] = [];
    for (const [topic, { missed, last }] of dropped) {
      if (missed === 0) continue;
      this.#gap(topic, { reason: 'overflow', missed });
      const envelope = encodeEnvelope(this.nodeId, last.seq, last.topicSeq, null);
      markers.push({ ...last, envelope, marker: true, acknowledged: false });
    }
    // Dropped messages are older than every survivor, so markers (in sequence order) go first.
    markers.sort((a, b) => a.seq - b.seq);
    for (const entry of [...markers, ...entries]) {
      if (!entry.marker && !entry.acknowledged) this.stats.flushed++;
      this.#send(entry);
    }
  }

  #gap(topic: string, info: GapInfo): void {
    this.stats.gaps++;
    this.#onGap?.(topic, info);
  }

  readonly #onMessage = (message: Buffer, channel: Buffer): void => {
    const env = decodeEnvelope(message, this.#maxMessageSize);
    if (!env) {
      this.stats.malformed++;
      return;
    }
    if (env.nodeId.equals(this.nodeId)) {
      this.stats.echoesDropped++;
      return;
    }
    const name = channel.toString('utf8');
    if (!name.startsWith(this.#prefix)) return;
    const topic = name.slice(this.#prefix.length);
    if (!this.#wanted.has(topic)) return;
    const node = env.nodeId.toString('latin1');
    const last = this.#seen.get(node);
    if (last !== undefined && env.seq <= last) {
      this.stats.duplicatesDropped++;
      return;
    }
    remember(this.#seen, node, env.seq, MAX_TRACKED);
    this.#checkSequence(topic, node, env.topicSeq, env.msg === null);
    if (env.msg === null) return;
    this.stats.received++;
    this.#deliver?.(topic, env.msg);
  };

  /** A jump in a node's sequence within the topic is a gap of that many messages (a marker counts itself). */
  #checkSequence(topic: string, node: string, topicSeq: number, marker: boolean): void {
    let nodes = this.#heard.get(topic);
    if (!nodes) {
      nodes = new Map();
      remember(this.#heard, topic, nodes, MAX_TRACKED);
    }
    const before = nodes.get(node);
    remember(nodes, node, topicSeq, MAX_NODES_PER_TOPIC);
    // Unknown before: nothing to compare with. Lower: the node forgot the topic's count (restarted at 1), not a gap.
    if (before === undefined || topicSeq <= before) return;
    const missed = topicSeq - before - (marker ? 0 : 1);
    if (missed > 0) this.#gap(topic, { reason: 'sequence', missed });
  }
}

/** `new Hub({ adapter: redisAdapter({ url }) })`: topics shared by every node on the same Redis. */
export function redisAdapter(options: RedisAdapterOptions | string = {}): RedisAdapter {
  return new RedisAdapter(typeof options === 'string' ? { url: options } : options);
}

/** Sets `key` as the most recently used entry of `map`, forgetting the least recently used beyond `max`. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

function onlyTimeouts(err: unknown): void {
  // A subscription lost with its connection is made again on the next one; only a Redis that does not answer, or
  // that refuses (an error reply, such as an ACL's NOPERM), is news.
  if (isRedisTimeout(err) || err instanceof ErrorReply) throw err;
}

export { decodeEnvelope, type Envelope, encodeEnvelope } from './redis-envelope.js';
export { isRedisTimeout, RedisError, type RedisErrorCode } from './redis-errors.js';
export { DEFAULT_RECONNECT, type RedisConnectionOptions, type ReconnectOptions } from './redis-link.js';
export { parseRedisUrl } from './redis-options.js';
export {
  type RedisHistoryOptions,
  type RedisHistoryStats,
  RedisStreamHistory,
  redisHistory,
} from './redis-history.js';
