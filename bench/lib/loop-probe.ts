// Preloaded into a server (`node --import dist/bench/lib/loop-probe.js ...`) for the stall workload: how long its
// event loop goes between turns, and how much of each gap its main thread spent running rather than waiting for the
// CPU (Linux schedstat). On one pinned core a server's threadpool (zlib) competes with its main thread, so a side
// client's latency mixes the two; the main thread's run time within one gap is the hold its own code caused.
// The load generator sends SIGUSR2 to start measuring and again to stop; the figures go to resultPath(pid).
import { readFileSync, writeFileSync } from 'node:fs';

export interface LoopProbeResult {
  /** The longest time between two turns of a 1 ms timer. */
  maxGapMs: number;
  /** The most main-thread CPU time within one such gap: at most what one loop turn ran. */
  maxRunMs: number;
  /** Gaps longer than 10 ms, and of those the ones in which the main thread ran more than 10 ms. */
  gapsOver10: number;
  runsOver10: number;
}

export function resultPath(pid: number): string {
  return `/tmp/switchboard-loop-probe-${pid}.json`;
}

function mainThreadRunMs(): number {
  // schedstat: ns on the CPU, ns waiting on a runqueue, timeslices.
  const line = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8');
  return Number(line.split(' ')[0]) / 1e6;
}

let measuring = false;
let result: LoopProbeResult = { maxGapMs: 0, maxRunMs: 0, gapsOver10: 0, runsOver10: 0 };
let lastAt = performance.now();
let lastRun = mainThreadRunMs();

setInterval(() => {
  const at = performance.now();
  const run = mainThreadRunMs();
  if (measuring) {
    const gap = at - lastAt;
    const ran = run - lastRun;
    result.maxGapMs = Math.max(result.maxGapMs, gap);
    result.maxRunMs = Math.max(result.maxRunMs, ran);
    if (gap > 10) result.gapsOver10++;
    if (ran > 10) result.runsOver10++;
  }
  lastAt = at;
  lastRun = run;
}, 1).unref();

process.on('SIGUSR2', () => {
  if (!measuring) {
    result = { maxGapMs: 0, maxRunMs: 0, gapsOver10: 0, runsOver10: 0 };
    measuring = true;
  } else {
    measuring = false;
    writeFileSync(resultPath(process.pid), JSON.stringify(result));
  }
});
