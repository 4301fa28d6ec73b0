// Measurement helpers for the bench: a log-bucket latency histogram, medians, and /proc readers for another
// process's CPU time (user+sys, all threads) and resident memory.
import { readFileSync } from 'node:fs';

/** 64 buckets per power of two (≈1.1 % resolution) from 1 µs up to ~2^40 µs: constant memory, no sorting. */
const PER_OCTAVE = 64;
const BUCKETS = 40 * PER_OCTAVE;

export interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  count: number;
}

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;
  #max = 0;

  /** Records one value in microseconds. */
  record(us: number): void {
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log2(us) * PER_OCTAVE));
    this.#counts[i]!++;
    this.#total++;
    if (us > this.#max) this.#max = us;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
    this.#max = 0;
  }

  get count(): number {
    return this.#total;
  }

  /** The upper edge of the bucket holding the p-th value (0 < p ≤ 1), in microseconds. */
  percentile(p: number): number {
    if (this.#total === 0) return 0;
    const target = Math.ceil(p * this.#total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= target) return Math.min(2 ** (i / PER_OCTAVE), this.#max);
    }
    return this.#max;
  }

  summary(): Percentiles {
    return {
      p50: this.percentile(0.5),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.#max,
      count: this.#total,
    };
  }
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export interface CpuSample {
  /** Milliseconds of user and system CPU time, summed over all threads of the process. */
  userMs: number;
  sysMs: number;
}

/** utime and stime of a process (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
export function readProcCpu(pid: number, ticksPerSecond: number): CpuSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const toMs = 1000 / ticksPerSecond;
  return { userMs: Number(fields[11]) * toMs, sysMs: Number(fields[12]) * toMs };
}

/** VmRSS of a process, in bytes. */
export function readProcRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

export function cpuDelta(a: CpuSample, b: CpuSample): CpuSample {
  return { userMs: b.userMs - a.userMs, sysMs: b.sysMs - a.sysMs };
}
