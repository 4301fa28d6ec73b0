// Process-level invariants for every fuzz case: no uncaught exception or unhandled rejection, no warning the case did
// not expect, the event loop never stalls (a timer chain measures it), RSS stays bounded, and every socket and timer a
// case opened is released when it ends.
import { readFileSync } from 'node:fs';

/**
 * A stall: the main thread spent this much CPU between two ticks of a 10 ms timer chain, i.e. it held the event loop.
 * CPU time rather than wall time, because on this shared 2-core machine (load 10+ while other suites run) a timer is
 * often late by 200+ ms for want of a core, with the process doing nothing; wall lag is reported beside it.
 */
export const STALL_MS = 200;

/** Short timers for every endpoint a fuzz case opens, so each case ends (or fails its deadline) fast. */
export const FUZZ_TIMERS = { closeTimeout: 300, shutdownTimeout: 300, handshakeTimeout: 1_000 } as const;
const TICK_MS = 10;
const TASK_STAT = `/proc/self/task/${process.pid}/stat`;
const TICK_SECONDS = 100; // CLK_TCK on Linux

/** CPU ms of the main thread (utime + stime of its task), or null where /proc does not say. */
function mainThreadCpuMs(): number | null {
  try {
    const stat = readFileSync(TASK_STAT, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK_SECONDS;
  } catch {
    return null;
  }
}

export interface WatchReport {
  /** Most main-thread CPU spent between two ticks: the longest the event loop was held. */
  maxBusyMs: number;
  /** Wall-clock lateness of the worst tick (includes waiting for a core). */
  maxLagMs: number;
  /** Highest RSS seen minus RSS at the start, in bytes. */
  rssGrowth: number;
  crashes: unknown[];
  warnings: Error[];
}

/** Watches one case: start it before the case runs, stop() it after, then check the report. */
export class CaseWatch {
  readonly #crashes: unknown[] = [];
  readonly #warnings: Error[] = [];
  readonly #rss0 = process.memoryUsage.rss();
  #rssPeak = this.#rss0;
  #maxLag = 0;
  #maxBusy = 0;
  #cpu = mainThreadCpuMs();
  #timer: NodeJS.Timeout | null = null;
  #due = 0;
  readonly #onCrash = (err: unknown): void => {
    this.#crashes.push(err);
  };
  readonly #onWarning = (w: Error): void => {
    this.#warnings.push(w);
  };

  constructor() {
    process.on('uncaughtException', this.#onCrash);
    process.on('unhandledRejection', this.#onCrash);
    process.on('warning', this.#onWarning);
    this.#arm();
  }

  #arm(): void {
    this.#due = performance.now() + TICK_MS;
    this.#timer = setTimeout(() => {
      const lag = performance.now() - this.#due;
      if (lag > this.#maxLag) this.#maxLag = lag;
      this.#sampleBusy(lag);
      const rss = process.memoryUsage.rss();
      if (rss > this.#rssPeak) this.#rssPeak = rss;
      this.#arm();
    }, TICK_MS);
  }

  #sampleBusy(lag: number): void {
    const cpu = mainThreadCpuMs();
    // Without /proc, wall lag is all there is.
    const busy = cpu === null || this.#cpu === null ? lag : cpu - this.#cpu;
    this.#cpu = cpu;
    if (busy > this.#maxBusy) this.#maxBusy = busy;
  }

  stop(): WatchReport {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const lagNow = performance.now() - this.#due;
    this.#sampleBusy(lagNow);
    process.off('uncaughtException', this.#onCrash);
    process.off('unhandledRejection', this.#onCrash);
    process.off('warning', this.#onWarning);
    return {
      maxBusyMs: this.#maxBusy,
      maxLagMs: Math.max(this.#maxLag, lagNow),
      rssGrowth: this.#rssPeak - this.#rss0,
      crashes: this.#crashes,
      warnings: this.#warnings,
    };
  }
}

/** The message prefix of the errors the API fuzzer's hostile listeners throw (they become process warnings). */
export const HOSTILE = 'hostile listener';

/**
 * Fails with every broken process invariant; `allowWarning` names the warnings a case provokes on purpose. A stall
 * that is the only one comes back instead of being thrown: endCase checks for leaked handles before it throws it.
 */
export function checkReport(r: WatchReport, allowWarning: (w: Error) => boolean, rssCap: number): StallError | null {
  const problems: string[] = [];
  if (r.crashes.length > 0) problems.push(`crashed: ${r.crashes.map(String).join('; ')}`);
  const unexpected = r.warnings.filter((w) => !allowWarning(w));
  if (unexpected.length > 0)
    problems.push(`unexpected warnings: ${unexpected.map((w) => `${w.name}: ${w.message}`).join('; ')}`);
  if (r.rssGrowth > rssCap)
    problems.push(`RSS grew ${(r.rssGrowth / 2 ** 20).toFixed(1)} MiB (cap ${rssCap / 2 ** 20} MiB)`);
  const stall =
    r.maxBusyMs > STALL_MS
      ? `event loop held for ${r.maxBusyMs.toFixed(0)} ms of CPU (limit ${STALL_MS} ms; wall lag ${r.maxLagMs.toFixed(0)} ms)`
      : null;
  if (problems.length > 0) throw new Error([...problems, ...(stall ? [stall] : [])].join('\n'));
  return stall ? new StallError(stall) : null;
}

/** A case whose only broken invariant is the stall limit: `withStallReplay` runs it again to tell which kind it is. */
export class StallError extends Error {
  override name = 'StallError';
}

/** How often a stalled case runs again before its stall counts as the case's own. */
export const STALL_REPLAYS = 2;
/**
 * More unconfirmed stalls than this share of a run's cases (and more than two) fail the run: the machine's stalls are
 * rare (a single one in a CI run here, none in most), while a code path that stalls one time in two shows up in many.
 */
export const MAX_UNCONFIRMED_SHARE = 0.01;

/** Whether a run's unconfirmed stalls are too many to be the machine's (see MAX_UNCONFIRMED_SHARE). */
export function tooManyUnconfirmed(stalls: number, cases: number): boolean {
  return stalls > Math.max(2, cases * MAX_UNCONFIRMED_SHARE);
}

/**
 * Runs a case; a stall is confirmed only if every replay of the same input stalls too. A message that holds the
 * loop does so every time it is sent, but this VM does not account steal time (/proc/stat's steal column stays 0), so
 * a host that takes the vCPU away for 200 ms while the main thread runs is charged to that thread as CPU. Any other
 * failure, in the first run or a replay, fails at once. `onUnconfirmed` hears each stall that a replay did not repeat;
 * the replays run in the same warmed-up process, so a stall that only a cold process shows (first use of a code path)
 * is not repeated either: runProperty fails a run in which such stalls are common (MAX_UNCONFIRMED_SHARE).
 */
export async function withStallReplay(run: () => Promise<void>, onUnconfirmed: (stall: string) => void): Promise<void> {
  const stalls: string[] = [];
  for (let attempt = 0; attempt <= STALL_REPLAYS; attempt++) {
    try {
      await run();
    } catch (err) {
      if (!(err instanceof StallError)) throw err;
      stalls.push(err.message);
      continue;
    }
    for (const s of stalls) onUnconfirmed(s);
    return;
  }
  throw new StallError(`${stalls[0]}; again in all ${STALL_REPLAYS} replays (${stalls.slice(1).join('; ')})`);
}

/** Handles that a case may open and must release. */
const TRACKED = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'Immediate', 'ZLIB'] as const;

export type Resources = Record<(typeof TRACKED)[number], number>;

export function resources(): Resources {
  const counts = Object.fromEntries(TRACKED.map((k) => [k, 0])) as Resources;
  for (const r of process.getActiveResourcesInfo()) if (r in counts) counts[r as keyof Resources]++;
  return counts;
}

/** Waits (bounded) until no tracked handle is above `baseline`: sockets close a few turns after their last event. */
export async function resourcesReleased(baseline: Resources, ms = 2_000): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    const now = resources();
    const leaked = TRACKED.filter((k) => now[k] > baseline[k]);
    if (leaked.length === 0) return;
    if (performance.now() > end) {
      throw new Error(
        `leaked handles after the case: ${leaked.map((k) => `${k} ${now[k]} > ${baseline[k]}`).join(', ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A case's last checks: the process invariants, then the handles it must have released, then its stall, if that was
 * the only problem. Leaks come first so a stalled run's open handles fail it rather than hide in a replay's baseline.
 */
export async function endCase(
  report: WatchReport,
  allowWarning: (w: Error) => boolean,
  rssCap: number,
  baseline: Resources,
): Promise<void> {
  const stall = checkReport(report, allowWarning, rssCap);
  await resourcesReleased(baseline);
  if (stall) throw stall;
}

/** Races `p` against a deadline; the error names what was awaited. */
export function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stuck: no ${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
