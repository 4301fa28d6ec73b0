// Small helpers shared by the load generator's jobs: CPU time of the server (from /proc) and of this process.
import type { CpuSample } from './stats.js';

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
