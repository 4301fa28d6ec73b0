// Driving a ManualClock while real sockets talk to a real (or stalled) Redis: the adapter's timers fire only as a test
// moves the clock, and between steps the event loop runs, so connects, replies and resets get through in real time.
import type { ManualClock } from './manual-clock.js';

/**
 * Moves `clock` forward `step` ms at a time until `check` holds; fails naming `what` after `limit` ms of clock time.
 * Returns the clock time it took. The short real pause per step is for socket I/O, which no clock can drive.
 */
export async function advanceUntil(
  clock: ManualClock,
  what: string,
  check: () => boolean,
  { step = 50, limit = 60_000 }: { step?: number; limit?: number } = {},
): Promise<number> {
  let moved = 0;
  while (!check()) {
    if (moved >= limit) throw new Error(`${what}: still not after ${moved} ms of clock time`);
    clock.advance(step);
    moved += step;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return moved;
}

/** Lets pending I/O and promise callbacks run without moving the clock (e.g. before asserting nothing happened). */
export async function settle(ms = 30): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
