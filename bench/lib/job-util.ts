// Small helpers shared by the load generator's jobs: CPU time of the server (from /proc) and of this process.
import { type CpuSample, cpuDelta, readProcCpu } from './stats.js';

export function cpuMs(s: CpuSample): number {
  return s.userMs + s.sysMs;
}

export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What one measured window saw: its length, the server's CPU time in it (all threads) and ours. */
export interface Window {
  elapsed: number;
  server: CpuSample;
  selfMs: number;
}

/** Measures `durationMs`: `measuring(true)` at its start and `measuring(false)` at its end, CPU read at both edges. */
export async function measureWindow(
  serverPid: number,
  ticks: number,
  durationMs: number,
  measuring: (on: boolean) => void,
): Promise<Window> {
  const cpu0 = readProcCpu(serverPid, ticks);
  const self0 = selfCpuMs();
  const t0 = performance.now();
  measuring(true);
  await sleep(durationMs);
  measuring(false);
  const t1 = performance.now();
  const cpu1 = readProcCpu(serverPid, ticks);
  return { elapsed: t1 - t0, server: cpuDelta(cpu0, cpu1), selfMs: selfCpuMs() - self0 };
}
