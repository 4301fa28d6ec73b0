// The fuzz watchdog itself: a real stall is caught and confirmed by replays; a stall that a replay does not repeat
// is reported, not failed, unless such stalls are common; every other broken invariant (leaked handles included)
// fails at once, without a replay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CaseWatch,
  checkReport,
  endCase,
  resources,
  STALL_MS,
  STALL_REPLAYS,
  StallError,
  tooManyUnconfirmed,
  withStallReplay,
} from './watch.js';

const none = (): boolean => false;

/** checkReport's result thrown, as a harness's endCase does. */
function check(r: ReturnType<CaseWatch['stop']>): void {
  const stall = checkReport(r, none, 2 ** 30);
  if (stall) throw stall;
}

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
    assert.ok(checkReport(r, none, 2 ** 30) instanceof StallError);
  });

  it('a stall alone is a StallError returned; with a crash beside it, a plain failure thrown', () => {
    assert.ok(checkReport(stalled, none, 2 ** 30) instanceof StallError);
    assert.equal(checkReport(report({}), none, 2 ** 30), null);
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
          check(stalled);
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
        if (runs++ === 0) check(stalled);
      },
      (s) => heard.push(s),
    );
    assert.equal(runs, 2);
    assert.equal(heard.length, 1);
    assert.match(heard[0] ?? '', /event loop held for 210 ms/);
  });

  it('a stalled run that leaked a handle fails on the leak, not the stall', async () => {
    const baseline = resources();
    const leak = setTimeout(() => {}, 60_000);
    try {
      await assert.rejects(
        endCase(stalled, none, 2 ** 30, baseline),
        (err: Error) => !(err instanceof StallError) && /leaked handles after the case: Timeout/.test(err.message),
      );
    } finally {
      clearTimeout(leak);
    }
    await assert.rejects(endCase(stalled, none, 2 ** 30, baseline), StallError);
  });

  it('unconfirmed stalls in more than 1% of a run (and more than two) fail it', () => {
    assert.equal(tooManyUnconfirmed(2, 10), false);
    assert.equal(tooManyUnconfirmed(3, 10), true);
    assert.equal(tooManyUnconfirmed(3, 300), false);
    assert.equal(tooManyUnconfirmed(4, 300), true);
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
          if (runs++ === 0) check(stalled);
          throw new Error('leaked handles after the case');
        },
        () => {},
      ),
      /leaked handles/,
    );
    assert.equal(runs, 2);
  });
});
