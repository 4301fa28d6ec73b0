// Cooperative slicing of the read path's CPU work across every connection of the process: parsing and inflating
// spend at most TURN_BUDGET_MS per event-loop turn in all, then the rest waits for the next turn, so timers and other
// peers' I/O keep their latency whatever one peer (or a thousand) sends.
import { performance } from 'node:perf_hooks';

/** What the read path may spend per turn before leftover work is deferred; one slice may overrun it once. */
export const TURN_BUDGET_MS = 4;

let spent = 0;
let depth = 0;
let turnQueued = false;
const jobs: Array<() => void> = [];

let inTurn = false;

/**
 * True once this turn's budget is spent, or while deferred work waits its turn: a read should park its bytes and
 * continue with later(). Fresh reads queue behind parked ones, or under saturation the peers whose bytes arrive
 * first in each poll phase take the whole budget and a parked one waits for seconds (64 KiB compressed echo over 50
 * connections: p50 5 ms, p99 1.0 s).
 */
export function overBudget(): boolean {
  return spent >= TURN_BUDGET_MS || (jobs.length > 0 && !inTurn);
}

/** Runs `work` and charges its time to this turn. */
export function charged<T>(work: () => T): T {
  // Nested work (a deferred slice that resumes parsing) is already being timed by the outer call.
  if (depth > 0) return work();
  depth++;
  const t0 = performance.now();
  try {
    return work();
  } finally {
    depth--;
    spent += performance.now() - t0;
    queueTurn();
  }
}

/** Runs `job` in a later turn, in order with every other deferred job (each job should be one bounded slice). */
export function later(job: () => void): void {
  jobs.push(job);
  queueTurn();
}

function queueTurn(): void {
  if (turnQueued) return;
  turnQueued = true;
  setImmediate(turn);
}

function turn(): void {
  turnQueued = false;
  // The budget spent by this turn's reads counts: deferred work gets what is left, and at least one slice, so it
  // always progresses.
  const n = jobs.length;
  inTurn = true;
  try {
    for (let i = 0; i < n; i++) {
      if (i > 0 && spent >= TURN_BUDGET_MS) break;
      const job = jobs.shift()!;
      charged(job);
    }
  } finally {
    inTurn = false;
  }
  spent = 0;
  if (jobs.length > 0) queueTurn();
}
