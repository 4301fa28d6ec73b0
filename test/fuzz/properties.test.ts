// runProperty's stall policy end to end, on properties whose cases stall on purpose: a stall that a replay does not
// repeat passes and is reported, but many of them fail the run with the command that replays it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProperty, type FuzzProperty } from './properties.js';
import { StallError } from './watch.js';

/** A property whose run() stalls on the calls `stallsOn` picks (counted over the first runs and the replays). */
function stalling(stallsOn: (call: number) => boolean): FuzzProperty<number> {
  let calls = 0;
  return {
    name: 'stalling',
    what: 'cases that report a stall on chosen calls',
    arb: fc.nat(),
    run: async () => {
      if (stallsOn(calls++)) throw new StallError('event loop held for 250 ms of CPU');
    },
  };
}

describe('fuzz stall policy', () => {
  it('one stall that its replay does not repeat passes and is reported', async () => {
    const r = await checkProperty(
      stalling((call) => call === 0),
      { seed: 1, numRuns: 50 },
    );
    assert.equal(r.failure, null);
    assert.equal(r.cases, 50);
    assert.equal(r.unconfirmedStalls.length, 1);
  });

  it('stalls that no replay repeats, in every case, fail the run with the command that replays it', async () => {
    // Every first run stalls and every replay passes: each stall alone looks like the machine's.
    const r = await checkProperty(
      stalling((call) => call % 2 === 0),
      { seed: 7, numRuns: 50 },
    );
    assert.equal(r.unconfirmedStalls.length, 50);
    assert.match(r.failure ?? '', /property stalling: 50 of 50 cases stalled and a replay did not/);
    assert.match(r.failure ?? '', /replay: npm run fuzz -- --property stalling --seed 7 --runs 50/);
  });

  it('a stall every replay repeats fails the case itself', async () => {
    const r = await checkProperty(
      stalling(() => true),
      { seed: 3, numRuns: 5 },
    );
    assert.match(r.failure ?? '', /again in all 2 replays/);
    assert.match(r.failure ?? '', /--seed 3 --path /);
  });
});
