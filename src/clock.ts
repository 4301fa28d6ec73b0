// The time source for every timer in the library (close timeouts, heartbeat), injectable so tests never sleep.

/**
 * The time source of every timer in the library (close and handshake timeouts, the heartbeat, the Redis adapter's
 * back-off). Pass your own as the `clock` option to drive timers by hand in tests, without sleeping.
 */
export interface Clock {
  /** The current time in ms; only differences between two calls matter (monotonic, like `performance.now()`). */
  now(): number;
  /** Calls `fn` once after `ms` ms; returns a handle for clearTimeout(). */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer set by setTimeout() (a handle already fired or cleared is ignored). */
  clearTimeout(handle: unknown): void;
}

/** The longest delay a node timer holds (about 24.8 days): node turns a longer one into 1 ms. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** The default Clock: `performance.now()` and node's timers, unref'd so they never keep a process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    // A timeout option above the limit means "wait very long", never "fire at once".
    const t = setTimeout(fn, Math.min(ms, MAX_TIMER_DELAY));
    // Library timers never keep a process alive on their own.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The clock option of a server or client: undefined → the system clock; anything else must look like a Clock. */
export function resolveClock(clock: unknown): Clock {
  if (clock === undefined) return systemClock;
  const c = clock as Partial<Clock> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.now !== 'function' ||
    typeof c.setTimeout !== 'function' ||
    typeof c.clearTimeout !== 'function'
  ) {
    throw new TypeError('clock must have now(), setTimeout(fn, ms) and clearTimeout(handle)');
  }
  return c as Clock;
}
