// The fuzzers' share of `npm test` (about a minute on 2 cores): each property with a fixed seed, so CI is
// reproducible, then a few cases from a fresh seed printed up front, so every run also explores. A failure reports
// the seed, the path and the shrunk case, and the command that replays it (see campaign.ts for long runs).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type PropertyName, type RunResult, runProperty } from './properties.js';

const FIXED_SEED = 42;
/** Cases per property: about 20 s of the wire fuzzer and 20 s of the API fuzzer on this machine, then fresh ones. */
const BUDGET: Record<PropertyName, { fixed: number; fresh: number }> = {
  wire: { fixed: 300, fresh: 60 },
  api: { fixed: 500, fresh: 120 },
};
/** A slow or loaded machine stops starting new cases after this, rather than stretch the suite. */
const CAP_MS = 40_000;

/** Case count and every stall a replay did not repeat, so a run that saw the machine stall says so. */
function report(t: TestContext, r: RunResult): void {
  t.diagnostic(`${r.cases} cases`);
  for (const s of r.unconfirmedStalls) t.diagnostic(`stall not repeated by a replay (the machine's): ${s}`);
}

for (const name of Object.keys(BUDGET) as PropertyName[]) {
  describe(`${name} fuzzer`, () => {
    it(`fixed seed ${FIXED_SEED}: ${BUDGET[name].fixed} cases`, async (t) => {
      const r = await runProperty(name, { seed: FIXED_SEED, numRuns: BUDGET[name].fixed, timeLimitMs: CAP_MS });
      report(t, r);
      assert.equal(r.failure, null, r.failure ?? '');
    });

    it(`fresh seed: ${BUDGET[name].fresh} cases`, async (t) => {
      const seed = Math.floor(Math.random() * 2 ** 31);
      t.diagnostic(`seed ${seed}`);
      const r = await runProperty(name, { seed, numRuns: BUDGET[name].fresh, timeLimitMs: CAP_MS / 4 });
      report(t, r);
      assert.equal(r.failure, null, r.failure ?? '');
    });
  });
}
