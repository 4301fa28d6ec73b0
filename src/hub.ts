// Topics and fan-out (gorilla's chat hub, made first-class): publish frames a message once — and compresses it once
// for peers without context takeover (RFC 7692 §7.1.1) — then writes the same bytes to every subscriber.
import { Connection, queuePrepared } from './connection/connection.js';
import { PreparedMessage } from './connection/prepared-message.js';
import { type Message, ReadyState } from './connection/types.js';
import type { HistoryStore, Recovery } from './history.js';
import type { HubMessage } from './hub-message.js';

export type { HubMessage } from './hub-message.js';

/**
 * Messages of a topic that local subscribers did not get, or may not have got, from other nodes — told through
 * `HubOptions.onGap` so an app can tell its clients (e.g. to read the topic's history again).
 */
export interface GapInfo {
  /**
   * - `'sequence'`: another node's messages are missing (a jump in its numbering of the topic: lost in an outage of
   *   this node, or dropped from that node's full outage buffer).
   * - `'reconnect'`: this node's subscription was interrupted and is back; whatever other nodes published meanwhile
   *   is gone (pub/sub does not replay). Reported once subscribed again, so a history read from here misses nothing.
   * - `'overflow'`: this node dropped its own messages of the topic from its full outage buffer, so other nodes never
   *   got them (local subscribers did); those nodes report a `'sequence'` gap.
   */
  reason: 'sequence' | 'reconnect' | 'overflow';
  /** How many messages, when known (`'reconnect'`: null, maybe none). */
  missed: number | null;
}

/**
 * What a multi-node backend provides. The hub calls subscribe/unsubscribe as a topic gains its first / loses its
 * last local subscriber, publish for every locally published message, and hands `start` the function that delivers
 * messages from other nodes to local subscribers (never back to the adapter) and the one that reports gaps.
 */
export interface HubAdapter {
  /** Called once by the Hub's constructor: `deliver` hands other nodes' messages to local subscribers. */
  start(
    deliver: (topic: string, msg: HubMessage) => void,
    gap?: (topic: string, info: GapInfo) => void,
  ): void | Promise<void>;
  /** The topic gained its first local subscriber: start receiving other nodes' messages of it. */
  subscribe(topic: string): void | Promise<void>;
  /** The topic lost its last local subscriber. */
  unsubscribe(topic: string): void | Promise<void>;
  /** A message published on this node (already delivered to its local subscribers): send it to the other nodes. */
  publish(topic: string, msg: HubMessage): void | Promise<void>;
  /** From hub.close(): release connections and timers. */
  close(): void | Promise<void>;
}

/** The options of `hub.publish()`. */
export interface PublishOptions {
  /** A subscriber not to deliver to, typically the sender. */
  except?: Connection;
  /** Send a string as binary, or a Buffer as text (it must be UTF-8). Default: string → text, Buffer → binary. */
  binary?: boolean;
}

/** The counters of a {@link Hub} (`hub.stats`). */
export interface HubStats {
  /** Messages published on this node. */
  published: number;
  /** Deliveries handed to subscribers' send queues. */
  delivered: number;
  /** Deliveries refused by a subscriber (slow consumer dropped or evicted, or closing). */
  skipped: number;
  /** Frames encoded: one per publish (plus one per distinct compressed variant), whatever the subscriber count. */
  framesEncoded: number;
  /** Messages compressed once for many peers. */
  sharedCompressions: number;
  /** Gaps the adapter reported (see GapInfo). */
  gaps: number;
}

/** The options of `hub.publishRecorded()`. */
export interface RecordOptions extends PublishOptions {
  /** What subscribers receive, built from the offset (e.g. JSON that carries it). Default: the message itself. */
  format?: (offset: number, msg: HubMessage) => string | Buffer | Message;
}

/** The options of `new Hub(options)`. */
export interface HubOptions {
  /** Shares topics between nodes, e.g. `redisAdapter()` from switchboard/redis. Default: this process only. */
  adapter?: HubAdapter;
  /** Where publishRecorded() records messages for recover(), e.g. memoryHistory() or redisHistory() (multi-node). */
  history?: HistoryStore;
  /** Called when the adapter fails (e.g. Redis unreachable); local delivery goes on regardless. */
  onAdapterError?: (err: unknown) => void;
  /** Called when local subscribers of `topic` missed, or may have missed, messages from other nodes. */
  onGap?: (topic: string, info: GapInfo) => void;
}

/**
 * Topics and fan-out: connections subscribe to topics, and publish() writes a message to every subscriber of its
 * topic, framed once (and compressed once, for peers that can share the bytes) whatever their number, each through
 * its connection's slow-consumer policy. A connection leaves its topics when it closes. With an adapter, topics
 * span every node; with a history, publishRecorded() and recover() let a client that reconnects catch up.
 */
export class Hub {
  /** Counters of publishes and deliveries. */
  readonly stats: HubStats = {
    published: 0,
    delivered: 0,
    skipped: 0,
    framesEncoded: 0,
    sharedCompressions: 0,
    gaps: 0,
  };
  readonly #topics = new Map<string, Set<Connection>>();
  readonly #byConn = new Map<Connection, Set<string>>();
  /** The one 'close' listener per subscribed connection, removed by unsubscribeAll so that cycles do not pile up. */
  readonly #onClose = new Map<Connection, () => void>();
  readonly #adapter: HubAdapter | null;
  readonly #onAdapterError: (err: unknown) => void;
  readonly #onGap: ((topic: string, info: GapInfo) => void) | null;
  readonly #ready: Promise<void>;
  readonly #history: HistoryStore | null;
  /** The adapter's subscription of each topic, so recover() starts only once live messages from other nodes flow. */
  readonly #adapterSubscribed = new Map<string, Promise<void>>();

  constructor(options: HubOptions = {}) {
    this.#adapter = options.adapter ?? null;
    this.#history = options.history ?? null;
    this.#onAdapterError = options.onAdapterError ?? (() => {});
    this.#onGap = options.onGap ?? null;
    this.#ready = this.#adapter
      ? Promise.resolve(
          this.#adapter.start(
            (topic, msg) => this.#deliverRemote(topic, msg),
            (topic, info) => this.#gap(topic, info),
          ),
        ).catch(this.#onAdapterError)
      : Promise.resolve();
  }

  /** Resolves once the adapter has started. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Adds the connection to the topic (nothing happens for one that is already closed). */
  subscribe(conn: Connection, topic: string): void {
    if (!(conn instanceof Connection)) throw new TypeError('subscribe takes a Connection');
    if (typeof topic !== 'string' || topic === '') throw new TypeError('a topic is a non-empty string');
    // Its 'close' has already fired, so nothing would ever take it out of the topic again.
    if (conn.readyState === ReadyState.Closed) return;
    let subs = this.#topics.get(topic);
    if (!subs) {
      subs = new Set();
      this.#topics.set(topic, subs);
      this.#adapterSubscribed.set(
        topic,
        this.#adapterCall((a) => a.subscribe(topic)),
      );
    }
    subs.add(conn);
    let mine = this.#byConn.get(conn);
    if (!mine) {
      mine = new Set();
      this.#byConn.set(conn, mine);
      const onClose = (): void => this.unsubscribeAll(conn);
      this.#onClose.set(conn, onClose);
      conn.once('close', onClose);
    }
    mine.add(topic);
  }

  /** Takes the connection out of the topic. */
  unsubscribe(conn: Connection, topic: string): void {
    const subs = this.#topics.get(topic);
    if (!subs?.delete(conn)) return;
    this.#byConn.get(conn)?.delete(topic);
    if (subs.size === 0) {
      this.#topics.delete(topic);
      this.#adapterSubscribed.delete(topic);
      this.#adapterCall((a) => a.unsubscribe(topic));
    }
  }

  /** Takes the connection out of every topic (done for you when it closes). */
  unsubscribeAll(conn: Connection): void {
    const mine = this.#byConn.get(conn);
    if (!mine) return;
    for (const topic of [...mine]) this.unsubscribe(conn, topic);
    this.#byConn.delete(conn);
    const onClose = this.#onClose.get(conn);
    if (onClose) conn.off('close', onClose);
    this.#onClose.delete(conn);
  }

  /** How many local connections are subscribed to the topic. */
  subscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** The topics the connection is subscribed to. */
  topicsOf(conn: Connection): string[] {
    return [...(this.#byConn.get(conn) ?? [])];
  }

  /** How many topics have at least one local subscriber. */
  get topicCount(): number {
    return this.#topics.size;
  }

  /**
   * Delivers to local subscribers at once (in publish order) and hands the message to the adapter for other nodes.
   * Returns how many local subscribers it was queued for: one that is closing, or that its slow-consumer policy
   * refused (dropped or evicted), is skipped.
   */
  publish(topic: string, data: string | Buffer | Message, options: PublishOptions = {}): number {
    const msg = toHubMessage(data, options.binary);
    this.stats.published++;
    const n = this.#deliver(topic, msg, options.except);
    this.#adapterCall((a) => a.publish(topic, msg));
    return n;
  }

  /**
   * Records the message in the topic's history, then publishes it like publish() — `format` turning the offset and
   * the message into what subscribers get. Offsets of a topic increase by one per message. Rejects (publishing
   * nothing) when the history cannot record, e.g. while its Redis is unreachable.
   */
  async publishRecorded(
    topic: string,
    data: string | Buffer | Message,
    options: RecordOptions = {},
  ): Promise<{
    /** The message's offset in the topic's history. */
    offset: number;
    /** How many local subscribers it was queued for, as publish() returns. */
    delivered: number;
  }> {
    const history = this.#history;
    if (!history) throw new TypeError('publishRecorded needs a Hub created with a history');
    const msg = toHubMessage(data, options.binary);
    const offset = await history.append(topic, msg);
    const out = options.format ? options.format(offset, msg) : msg.data;
    const publishOptions: PublishOptions = options.format ? {} : { binary: msg.type === 'binary' };
    if (options.except) publishOptions.except = options.except;
    const delivered = this.publish(topic, out, publishOptions);
    return { offset, delivered };
  }

  /**
   * What was recorded on the topic after `since` (every kept message without it); `gap` says `since` is older than
   * what is kept. Subscribe first, then recover: together they miss nothing (repeats are possible; offsets tell them).
   */
  async recover(topic: string, since?: number): Promise<Recovery> {
    const history = this.#history;
    if (!history) throw new TypeError('recover needs a Hub created with a history');
    await this.#adapterSubscribed.get(topic);
    return history.since(topic, since);
  }

  /** Forgets every subscription and closes the adapter and the history (the connections stay open). */
  async close(): Promise<void> {
    this.#topics.clear();
    this.#byConn.clear();
    for (const [conn, onClose] of this.#onClose) conn.off('close', onClose);
    this.#onClose.clear();
    this.#adapterSubscribed.clear();
    await this.#adapter?.close();
    await this.#history?.close?.();
  }

  #deliver(topic: string, msg: HubMessage, except: Connection | undefined): number {
    const subs = this.#topics.get(topic);
    if (!subs) return 0;
    // Framed once, and compressed once per shareable set of parameters, for every subscriber.
    const prepared = new PreparedMessage(msg.data, { binary: msg.type === 'binary' });
    let delivered = 0;
    for (const conn of subs) {
      if (conn === except) continue;
      if (queuePrepared(conn, prepared)) delivered++;
      else this.stats.skipped++;
    }
    this.stats.delivered += delivered;
    this.stats.framesEncoded += prepared.framesEncoded;
    this.stats.sharedCompressions += prepared.compressions;
    return delivered;
  }

  /** From another node: a message no subscriber can be sent (text that is not UTF-8) is dropped, never thrown. */
  #deliverRemote(topic: string, msg: HubMessage): void {
    try {
      this.#deliver(topic, msg, undefined);
    } catch (err) {
      this.#onAdapterError(err);
    }
  }

  #gap(topic: string, info: GapInfo): void {
    this.stats.gaps++;
    try {
      this.#onGap?.(topic, info);
    } catch (err) {
      this.#onAdapterError(err); // the app's callback must not break the adapter's receive path
    }
  }

  #adapterCall(fn: (a: HubAdapter) => void | Promise<void>): Promise<void> {
    const adapter = this.#adapter;
    if (!adapter) return Promise.resolve();
    try {
      return Promise.resolve(fn(adapter)).catch(this.#onAdapterError);
    } catch (err) {
      this.#onAdapterError(err);
      return Promise.resolve();
    }
  }
}

function toHubMessage(data: string | Buffer | Message, binary: boolean | undefined): HubMessage {
  if (typeof data === 'string') return { type: binary ? 'binary' : 'text', data: Buffer.from(data) };
  if (Buffer.isBuffer(data)) return { type: binary === false ? 'text' : 'binary', data };
  return { type: data.type, data: typeof data.data === 'string' ? Buffer.from(data.data) : data.data };
}
