// The fuzz watchdog itself: a real stall is caught and confirmed by replays; a stall that a replay does not repeat
// is reported, not failed; every other broken invariant fails at once, without a replay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CaseWatch, checkReport, STALL_MS, STALL_REPLAYS, StallError, withStallReplay } from './watch.js';

const none = (): boolean => false;

/** A report as CaseWatch gives it, with the fields a test sets. */
function report(over: Partial<ReturnType<CaseWatch['stop']>>): ReturnType<CaseWatch['stop']> {
  return { maxBusyMs: 0, maxLagMs: 0, rssGrowth: 0, crashes: [], warnings: [], ...over };
}

const stalled = report({ maxBusyMs: STALL_MS + 10, maxLagMs: STALL_MS + 40 });

describe('fuzz watchdog', () => {
  it('catches the main thread held for longer than the limit', async () => {
    const watch = new CaseWatch();
    const end = performance.now() + STALL_MS + 60;
    while (performance.now() < end); // busy on purpose: the CPU a stalling message would burn
    await new Promise((resolve) => setImmediate(resolve));
    const r = watch.stop();
    assert.ok(r.maxBusyMs > STALL_MS, `measured ${r.maxBusyMs} ms`);
    assert.throws(() => checkReport(r, none, 2 ** 30), StallError);
  });

  it('a stall alone is a StallError; with a crash beside it, a plain failure', () => {
    assert.throws(() => checkReport(stalled, none, 2 ** 30), StallError);
    const crashed = report({ ...stalled, crashes: [new Error('boom')] });
    assert.throws(
      () => checkReport(crashed, none, 2 ** 30),
      (err: Error) =>
        !(err instanceof StallError) && /crashed: Error: boom/.test(err.message) && /held/.test(err.message),
    );
  });

  it('a stall that every replay repeats fails, after the replays', async () => {
    let runs = 0;
    await assert.rejects(
      withStallReplay(
        async () => {
          runs++;
          checkReport(stalled, none, 2 ** 30);
        },
        () => assert.fail('a repeated stall is not unconfirmed'),
      ),
      (err: Error) => err instanceof StallError && err.message.includes(`again in all ${STALL_REPLAYS} replays`),
    );
    assert.equal(runs, 1 + STALL_REPLAYS);
  });

  it('a stall that a replay does not repeat passes and is reported', async () => {
    let runs = 0;
    const heard: string[] = [];
    await withStallReplay(
      async () => {
        if (runs++ === 0) checkReport(stalled, none, 2 ** 30);
      },
      (s) => heard.push(s),
    );
    assert.equal(runs, 2);
    assert.equal(heard.length, 1);
    assert.match(heard[0] ?? '', /event loop held for 210 ms/);
  });

  it('any other failure fails at once, without a replay', async () => {
    let runs = 0;
    await assert.rejects(
      withStallReplay(
        async () => {
          runs++;
          throw new Error('no allowed outcome matches');
        },
        () => {},
      ),
      /no allowed outcome/,
    );
    assert.equal(runs, 1);
  });

  it('a replay that fails otherwise fails with that error', async () => {
    let runs = 0;
    await assert.rejects(
      withStallReplay(
        async () => {
          if (runs++ === 0) checkReport(stalled, none, 2 ** 30);
          throw new Error('leaked handles after the case');
        },
        () => {},
      ),
      /leaked handles/,
    );
    assert.equal(runs, 2);
  });
});
