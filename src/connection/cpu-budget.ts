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

/** True once this turn's budget is spent: a read should park its bytes and continue with later(). */
export function overBudget(): boolean {
  return spent >= TURN_BUDGET_MS;
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
  for (let i = 0; i < n; i++) {
    if (i > 0 && spent >= TURN_BUDGET_MS) break;
    const job = jobs.shift()!;
    charged(job);
  }
  spent = 0;
  if (jobs.length > 0) queueTurn();
}
