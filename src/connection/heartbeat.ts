// Ping/pong liveness for many connections with one timer: a shared sweep instead of a timer per connection.
// A peer that sends nothing (no pong, no data) for `timeout` after a ping is terminated (its close reports 1006).
import type { Clock } from '../clock.js';
import { warnOf } from '../errors.js';
import { DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT } from '../protocol/constants.js';
import { checkKeys, intOption, optionsObject } from '../validate.js';

/** The `heartbeat` option of a server (on by default) or of connect() (off by default). */
export interface HeartbeatOptions {
  /** Idle time after which a ping is sent, in ms (default 25 000). */
  interval?: number;
  /** Time a pinged peer has to send anything before it is terminated, in ms (default 10 000). */
  timeout?: number;
}

const HEARTBEAT_KEYS = new Set(['interval', 'timeout']);

/** What the sweep needs of a connection (a {@link Connection} is one). */
export interface Pingable {
  /** Bytes read so far: any change counts as a sign of life, a pong or anything else. */
  readonly readCount: number;
  /** A connection paused by its consumer is not read, so its pongs go unseen: it is spared until it resumes. */
  readonly isPaused?: boolean;
  /** Sends a ping. */
  ping(): void;
  /** Drops the connection at once. */
  terminate(): void;
}

interface Watch {
  readCount: number;
  lastActive: number;
  pingedAt: number; // 0: no ping outstanding
}

/**
 * Liveness for many connections on one timer: a connection that has read nothing for `interval` is pinged, and one
 * that still reads nothing for `timeout` after that is terminated (its close reports 1006). Servers and connect()
 * make their own from the `heartbeat` option; use one directly to watch connections you track yourself.
 */
export class Heartbeat {
  /** Idle time after which a ping is sent, in ms. */
  readonly interval: number;
  /** Time a pinged peer has to send anything before it is terminated, in ms. */
  readonly timeout: number;
  readonly #clock: Clock;
  readonly #tick: number;
  readonly #watched = new Map<Pingable, Watch>();
  readonly #onKill: () => void;
  #timer: unknown = null;

  /** `onKill` is called for each connection terminated for its silence (a server counts them in its stats). */
  constructor(options: HeartbeatOptions | undefined, clock: Clock, onKill: () => void = () => {}) {
    const opts = optionsObject<HeartbeatOptions>('heartbeat', options);
    checkKeys('heartbeat', opts, HEARTBEAT_KEYS);
    this.interval = intOption('heartbeat.interval', opts.interval, DEFAULT_HEARTBEAT_INTERVAL);
    this.timeout = intOption('heartbeat.timeout', opts.timeout, DEFAULT_HEARTBEAT_TIMEOUT);
    this.#clock = clock;
    // Deadlines are honoured to within a quarter of the shorter period.
    this.#tick = Math.max(1, Math.floor(Math.min(this.interval, this.timeout) / 4));
    this.#onKill = onKill;
  }

  /** How many connections are watched. */
  get size(): number {
    return this.#watched.size;
  }

  /** Starts watching a connection (the shared timer starts with the first). */
  add(conn: Pingable): void {
    this.#watched.set(conn, { readCount: conn.readCount, lastActive: this.#clock.now(), pingedAt: 0 });
    if (this.#timer === null) this.#schedule();
  }

  /** Stops watching a connection (the timer stops with the last). */
  delete(conn: Pingable): void {
    this.#watched.delete(conn);
    if (this.#watched.size === 0) this.stop();
  }

  /** Stops the timer; add() starts it again. */
  stop(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => this.#sweep(), this.#tick);
  }

  #sweep(): void {
    this.#timer = null;
    const now = this.#clock.now();
    for (const [conn, w] of this.#watched) {
      try {
        this.#check(conn, w, now);
      } catch (err) {
        // A Pingable of the caller's whose ping() or terminate() throws (a Connection never does) is dropped from the
        // watch, said as a warning: it must not stop the sweep for every other connection.
        this.#watched.delete(conn);
        warnOf(err);
      }
    }
    if (this.#watched.size > 0) this.#schedule();
  }

  /** One connection's turn in a sweep: spared, pinged, or terminated. */
  #check(conn: Pingable, w: Watch, now: number): void {
    if (conn.isPaused) {
      w.lastActive = now;
      w.pingedAt = 0;
      return;
    }
    if (conn.readCount !== w.readCount) {
      w.readCount = conn.readCount;
      w.lastActive = now;
      w.pingedAt = 0;
    }
    if (w.pingedAt !== 0) {
      if (now - w.pingedAt >= this.timeout) {
        this.#watched.delete(conn);
        this.#onKill();
        conn.terminate();
      }
    } else if (now - w.lastActive >= this.interval) {
      w.pingedAt = now;
      conn.ping();
    }
  }
}
