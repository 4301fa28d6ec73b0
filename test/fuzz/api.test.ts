// The API fuzzer's share of `npm test`: random sequences of application calls on a real server/client pair, with
// hostile listeners; a fixed seed, a bounded number of cases.
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { apiInputArb, runApiCase } from './api-harness.js';

describe('api fuzzer', () => {
  it('any sequence of application calls settles, releases everything and delivers whole messages in order', async () => {
    await fc.assert(fc.asyncProperty(apiInputArb, runApiCase), { seed: 42, numRuns: 100, includeErrorInReport: true });
  });
});
