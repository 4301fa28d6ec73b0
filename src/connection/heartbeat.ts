// Ping/pong liveness for many connections with one timer: a shared sweep instead of a timer per connection.
// A peer that sends nothing (no pong, no data) for `timeout` after a ping is terminated (its close reports 1006).
import type { Clock } from '../clock.js';
import { DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT } from '../protocol/constants.js';
import { checkKeys, intOption, optionsObject } from '../validate.js';

export interface HeartbeatOptions {
  /** Idle time after which a ping is sent. */
  interval?: number;
  /** Time a pinged peer has to send anything before it is terminated. */
  timeout?: number;
}

const HEARTBEAT_KEYS = new Set(['interval', 'timeout']);

/** What the sweep needs of a connection. */
export interface Pingable {
  readonly readCount: number;
  /** A connection paused by its consumer is not read, so its pongs go unseen: it is spared until it resumes. */
  readonly isPaused?: boolean;
  ping(): void;
  terminate(): void;
}

interface Watch {
  readCount: number;
  lastActive: number;
  pingedAt: number; // 0: no ping outstanding
}

export class Heartbeat {
  readonly interval: number;
  readonly timeout: number;
  readonly #clock: Clock;
  readonly #tick: number;
  readonly #watched = new Map<Pingable, Watch>();
  readonly #onKill: () => void;
  #timer: unknown = null;

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

  get size(): number {
    return this.#watched.size;
  }

  add(conn: Pingable): void {
    this.#watched.set(conn, { readCount: conn.readCount, lastActive: this.#clock.now(), pingedAt: 0 });
    if (this.#timer === null) this.#schedule();
  }

  delete(conn: Pingable): void {
    this.#watched.delete(conn);
    if (this.#watched.size === 0) this.stop();
  }

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
      if (conn.isPaused) {
        w.lastActive = now;
        w.pingedAt = 0;
        continue;
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
    if (this.#watched.size > 0) this.#schedule();
  }
}
