// One connection to Redis kept alive on the injected clock: reconnects (short fixed interval while an outage is young,
// then back-off with jitter), a bound on connecting and on every command, and PINGs that find a stalled Redis out.
// node-redis's own reconnect is off: its delays run on the real clock, and a command it has written has no bound.
import { createClient } from 'redis';
import { type Clock, resolveClock } from '../clock.js';
import { intOption } from '../validate.js';
import { RedisError, redisTimeout } from './redis-errors.js';
import { parseRedisUrl, redisOptions } from './redis-options.js';

/** How a Redis connection dials again after losing Redis (the `reconnect` option). */
export interface ReconnectOptions {
  /** Delay between attempts while the outage is young, in ms (default 100), ±20 % jitter. */
  initialDelay?: number;
  /** How long attempts stay `initialDelay` apart, in ms since the connection was lost (default 10 000). */
  fastRetryFor?: number;
  /** After that the delay doubles per attempt up to this, in ms (default 5000), ±20 % jitter. */
  maxDelay?: number;
}

/** What every Redis connection of switchboard takes (the adapter's two and the history's one). */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Time allowed to connect (TCP and the client's handshake), in ms (default 2000). */
  connectTimeout?: number;
  /**
   * Time allowed for any one command, in ms (default 2000). A command that gets no answer fails with an
   * `ERR_REDIS_TIMEOUT` RedisError, and its connection is taken for stalled: dropped and dialled again. (Redis may
   * still carry it out once it wakes up: a timed-out publish is sent again and receivers drop the repeat.)
   */
  commandTimeout?: number;
  /** How long close() lets commands in flight finish before it drops the connection, in ms (default 1000). */
  closeTimeout?: number;
  /** A PING this often while connected, in ms (default 1000; 0: never), so an idle stalled connection is found out. */
  healthCheckInterval?: number;
  /** Reconnect timing (defaults: {@link DEFAULT_RECONNECT}). */
  reconnect?: ReconnectOptions;
  /** Every timer (back-off, timeouts, health checks) goes through it. Default: systemClock. */
  clock?: Clock;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_CONNECT_TIMEOUT = 2000;
export const DEFAULT_COMMAND_TIMEOUT = 2000;
export const DEFAULT_CLOSE_TIMEOUT = 1000;
export const DEFAULT_HEALTH_CHECK_INTERVAL = 1000;
/** The default {@link ReconnectOptions}. */
export const DEFAULT_RECONNECT = {
  /** 100 ms between attempts while the outage is young. */
  initialDelay: 100,
  /** For the first 10 s of the outage. */
  fastRetryFor: 10_000,
  /** Then doubling up to 5 s. */
  maxDelay: 5000,
} as const;
export const CONNECTION_OPTION_KEYS = [
  'url',
  'connectTimeout',
  'commandTimeout',
  'closeTimeout',
  'healthCheckInterval',
  'reconnect',
  'clock',
] as const;

export interface LinkSettings {
  url: string;
  connectTimeout: number;
  commandTimeout: number;
  closeTimeout: number;
  healthCheckInterval: number;
  initialDelay: number;
  fastRetryFor: number;
  maxDelay: number;
  clock: Clock;
}

const HOUR = 3_600_000;

/** Validates the connection options (the caller has already refused unknown keys). */
export function linkSettings(options: Record<string, unknown>): LinkSettings {
  const url = options.url === undefined ? DEFAULT_REDIS_URL : options.url;
  parseRedisUrl(url as string);
  const reconnect = redisOptions('reconnect', options.reconnect, ['initialDelay', 'fastRetryFor', 'maxDelay']);
  const initialDelay = intOption(
    'reconnect.initialDelay',
    reconnect.initialDelay,
    DEFAULT_RECONNECT.initialDelay,
    1,
    HOUR,
  );
  const maxDelay = intOption('reconnect.maxDelay', reconnect.maxDelay, DEFAULT_RECONNECT.maxDelay, 1, HOUR);
  if (maxDelay < initialDelay) {
    throw new RangeError(
      `reconnect.maxDelay (${maxDelay}) must not be less than reconnect.initialDelay (${initialDelay})`,
    );
  }
  return {
    url: url as string,
    connectTimeout: intOption('connectTimeout', options.connectTimeout, DEFAULT_CONNECT_TIMEOUT, 1, HOUR),
    commandTimeout: intOption('commandTimeout', options.commandTimeout, DEFAULT_COMMAND_TIMEOUT, 1, HOUR),
    closeTimeout: intOption('closeTimeout', options.closeTimeout, DEFAULT_CLOSE_TIMEOUT, 0, HOUR),
    healthCheckInterval: intOption(
      'healthCheckInterval',
      options.healthCheckInterval,
      DEFAULT_HEALTH_CHECK_INTERVAL,
      0,
      HOUR,
    ),
    initialDelay,
    fastRetryFor: intOption(
      'reconnect.fastRetryFor',
      reconnect.fastRetryFor,
      DEFAULT_RECONNECT.fastRetryFor,
      0,
      24 * HOUR,
    ),
    maxDelay,
    clock: resolveClock(options.clock),
  };
}

/**
 * The wait before the next connection attempt: `initialDelay` while the outage is younger than `fastRetryFor`, then
 * doubling with each further attempt up to `maxDelay`; `random` (in [0, 1)) spreads it by ±20 % so nodes cut off
 * together do not all dial at the same instant.
 */
export function reconnectDelay(outageMs: number, slowAttempt: number, s: LinkSettings, random: number): number {
  const base =
    outageMs < s.fastRetryFor ? s.initialDelay : Math.min(s.maxDelay, s.initialDelay * 2 ** Math.min(slowAttempt, 30));
  return Math.max(1, Math.round(base * (0.8 + random * 0.4)));
}

type Listener = (message: Buffer, channel: Buffer) => void;

/** The node-redis client members switchboard uses (keeps its types small). */
export interface RedisClient {
  readonly isReady: boolean;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  ping(): Promise<string>;
  publish(channel: string, message: Buffer): Promise<number>;
  pubSubNumSub(channels: string[]): Promise<Record<string, number>>;
  subscribe(channels: string[], listener: Listener, bufferMode: true): Promise<void>;
  unsubscribe(channels: string[], listener: Listener, bufferMode: true): Promise<void>;
  sendCommand<T>(args: ReadonlyArray<string | Buffer>, options?: { typeMapping?: Record<number, unknown> }): Promise<T>;
}

export interface LinkHooks {
  /** The connection is up (first time or again): a fresh client, with no subscriptions. */
  up(): void;
  /** The connection that was up is lost (the error that said so); attempts to reconnect have started. */
  down(err: Error): void;
}

/** Counters a link adds to, owned by whoever reports them. */
export interface LinkCounters {
  errors: number;
  timeouts: number;
}

export class RedisLink {
  readonly #role: string;
  readonly #s: LinkSettings;
  readonly #hooks: LinkHooks;
  readonly #counters: LinkCounters;
  #client: RedisClient | null = null;
  /** Bumped whenever a client is retired: events and replies of an older one are then recognised and ignored. */
  #generation = 0;
  #ready = false;
  #closed = false;
  #retryTimer: unknown = null;
  #connectTimer: unknown = null;
  #healthTimer: unknown = null;
  /** When the current outage began (clock time), for the back-off; and attempts since it left the fast phase. */
  #outageStart = 0;
  #slowAttempts = 0;
  #firstUp: Promise<void>;
  #resolveFirstUp!: () => void;

  /** `role` names the connection in errors ("publish", "subscribe", "history"). */
  constructor(role: string, settings: LinkSettings, hooks: LinkHooks, counters: LinkCounters) {
    this.#role = role;
    this.#s = settings;
    this.#hooks = hooks;
    this.#counters = counters;
    this.#firstUp = new Promise((resolve) => {
      this.#resolveFirstUp = resolve;
    });
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Resolves the first time the connection is up, or when it is closed first (never rejects). */
  upOnce(): Promise<void> {
    return this.#firstUp;
  }

  start(): void {
    if (this.#closed || this.#client || this.#retryTimer !== null) return;
    this.#outageStart = this.#s.clock.now();
    this.#connect();
  }

  /**
   * Runs one command on the live client, bounded by `commandTimeout`. Rejects at once (ERR_REDIS_UNAVAILABLE) while
   * the connection is down, and with ERR_REDIS_TIMEOUT when no answer comes in time — the connection is then dropped
   * and dialled again, so a late answer can never arrive, and the command's promise settles exactly once either way.
   */
  call<T>(what: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = this.#client;
    if (!this.#ready || !client) {
      return Promise.reject(
        new RedisError('ERR_REDIS_UNAVAILABLE', `${what} failed: Redis is unreachable (${this.#role} connection down)`),
      );
    }
    const generation = this.#generation;
    const clock = this.#s.clock;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        this.#counters.timeouts++;
        const err = redisTimeout(what, this.#s.commandTimeout);
        reject(err);
        this.#retire(generation, err);
      }, this.#s.commandTimeout);
      const settle = (err: unknown, value?: T): void => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        if (err === undefined) resolve(value as T);
        else if (generation === this.#generation) reject(err);
        else
          reject(
            new RedisError('ERR_REDIS_UNAVAILABLE', `${what} failed: the connection to Redis was lost`, { cause: err }),
          );
      };
      let reply: Promise<T>;
      try {
        reply = fn(client);
      } catch (err) {
        reply = Promise.reject(err);
      }
      reply.then(
        (value) => settle(undefined, value),
        (err: unknown) => settle(err ?? new Error(`${what} failed`)),
      );
    });
  }

  /** Lets commands in flight finish (for at most `closeTimeout` ms), then drops the connection. Never rejects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const clock = this.#s.clock;
    for (const timer of [this.#retryTimer, this.#connectTimer, this.#healthTimer]) clock.clearTimeout(timer);
    this.#retryTimer = this.#connectTimer = this.#healthTimer = null;
    const client = this.#client;
    this.#client = null;
    this.#generation++;
    this.#ready = false;
    this.#resolveFirstUp();
    if (!client) return;
    if (client.isReady && this.#s.closeTimeout > 0) {
      let timer: unknown;
      await new Promise<void>((resolve) => {
        timer = clock.setTimeout(resolve, this.#s.closeTimeout);
        client.close().then(resolve, resolve);
      });
      clock.clearTimeout(timer);
    }
    client.destroy();
  }

  #connect(): void {
    this.#retryTimer = null;
    const generation = ++this.#generation;
    const clock = this.#s.clock;
    const client = createClient({
      url: this.#s.url,
      // Commands while down fail at once instead of queueing in the client: the adapter owns the (bounded) buffer.
      disableOfflineQueue: true,
      socket: { connectTimeout: this.#s.connectTimeout, reconnectStrategy: false },
    }) as unknown as RedisClient;
    this.#client = client;
    client.on('error', (err) => {
      if (generation !== this.#generation) return;
      this.#counters.errors++;
      this.#retire(generation, err);
    });
    client.on('end', () =>
      this.#retire(generation, new RedisError('ERR_REDIS_UNAVAILABLE', `the ${this.#role} connection to Redis closed`)),
    );
    this.#connectTimer = clock.setTimeout(() => {
      this.#connectTimer = null;
      this.#counters.timeouts++;
      this.#retire(generation, redisTimeout(`connecting to Redis (${this.#role})`, this.#s.connectTimeout));
    }, this.#s.connectTimeout);
    client.connect().then(
      () => {
        // Retired or closed while connecting: node-redis's destroy() does not stop a connect in progress, so the
        // socket it opens now would stay open (and hold the process) with nobody to close it.
        if (generation !== this.#generation) {
          client.destroy();
          return;
        }
        clock.clearTimeout(this.#connectTimer);
        this.#connectTimer = null;
        this.#ready = true;
        this.#slowAttempts = 0;
        this.#scheduleHealthCheck(generation);
        this.#resolveFirstUp();
        this.#hooks.up();
      },
      (err: Error) => this.#retire(generation, err),
    );
  }

  /** Drops the client of `generation` (if still current) and schedules the next attempt. */
  #retire(generation: number, err: Error): void {
    if (generation !== this.#generation || this.#closed) return;
    this.#generation++;
    const clock = this.#s.clock;
    const client = this.#client;
    this.#client = null;
    clock.clearTimeout(this.#connectTimer);
    clock.clearTimeout(this.#healthTimer);
    this.#connectTimer = this.#healthTimer = null;
    const wasReady = this.#ready;
    this.#ready = false;
    // Rejects the commands still waiting on it; each call() settles once, so none is counted twice.
    client?.destroy();
    const now = clock.now();
    if (wasReady) {
      this.#outageStart = now;
      this.#slowAttempts = 0;
    }
    const outageMs = now - this.#outageStart;
    if (outageMs >= this.#s.fastRetryFor) this.#slowAttempts++;
    const delay = reconnectDelay(outageMs, this.#slowAttempts, this.#s, Math.random());
    this.#retryTimer = clock.setTimeout(() => this.#connect(), delay);
    if (wasReady) this.#hooks.down(err);
  }

  #scheduleHealthCheck(generation: number): void {
    if (this.#s.healthCheckInterval === 0) return;
    this.#healthTimer = this.#s.clock.setTimeout(() => {
      this.#healthTimer = null;
      // A timeout replaces the connection (a new generation); any other answer, even an error reply, means it lives.
      this.call(`health check (PING on the ${this.#role} connection)`, (c) => c.ping())
        .catch(() => {})
        .then(() => {
          if (generation === this.#generation) this.#scheduleHealthCheck(generation);
        });
    }, this.#s.healthCheckInterval);
  }
}
