// The read path's shared CPU budget (src/connection/cpu-budget.ts): deferred work runs in order, at least one job per
// turn, and while any waits, fresh reads are told to queue behind it rather than run ahead (fairness under load).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { charged, later, overBudget, TURN_BUDGET_MS } from '../../src/connection/cpu-budget.js';

/** Spins for `ms` of wall time: work the budget must charge. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Waits until every job deferred so far has run: they run in order, so a last one marks the end. */
function drained(): Promise<void> {
  return new Promise((resolve) => later(resolve));
}

describe('cpu-budget', () => {
  it('a fresh read queues behind deferred work: overBudget() while a job waits, not inside the job', async () => {
    await drained();
    assert.equal(overBudget(), false);
    let insideJob: boolean | null = null;
    later(() => {
      insideJob = overBudget();
    });
    // A read arriving now (before the turn runs the job) must park behind it, or under saturation it never runs.
    assert.equal(overBudget(), true);
    await drained();
    assert.equal(insideJob, false, 'the deferred job itself may work');
  });

  it('deferred jobs run in order, at least one per turn even after the reads spent the budget', async () => {
    await drained();
    const ran: number[] = [];
    for (let i = 0; i < 5; i++) later(() => ran.push(i));
    charged(() => busy(TURN_BUDGET_MS + 1)); // this turn's reads took it all
    await nextTurn();
    assert.ok(ran.length >= 1, 'one job still ran');
    await drained();
    assert.deepEqual(ran, [0, 1, 2, 3, 4]);
  });

  it('a turn stops running jobs once they spend the budget, and continues on the next', async () => {
    await drained();
    const ran: number[] = [];
    for (let i = 0; i < 4; i++)
      later(() => {
        ran.push(i);
        busy(TURN_BUDGET_MS);
      });
    await nextTurn();
    assert.equal(ran.length, 1, 'each job spends the whole budget: one per turn');
    await drained();
    assert.deepEqual(ran, [0, 1, 2, 3]);
  });
});
