// A Clock (src/clock.ts) whose time moves only when a test calls advance(ms): due timers fire in deadline order, so
// heartbeat, close and shutdown timeouts are tested exactly and without sleeping.
import type { Clock } from '../../src/clock.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  /** Every setTimeout call so far; tests compare it before and after a sweep to count timers. */
  setTimeoutCalls = 0;
  #now = 0;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.setTimeoutCalls++;
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.#timers.delete(handle);
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due on the way at its own deadline (earliest first, ties
   * in arming order). A timer armed by a firing timer fires too if it is due before the end of the step.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance() takes a non-negative number, got ${ms}`);
    const end = this.#now + ms;
    for (;;) {
      let next: [number, Timer] | null = null;
      for (const entry of this.#timers) {
        const t = entry[1];
        if (t.at <= end && (next === null || t.at < next[1].at || (t.at === next[1].at && t.seq < next[1].seq))) {
          next = entry;
        }
      }
      if (next === null) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
}
