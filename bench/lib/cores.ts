// Which core each bench process runs on (taskset): servers on one, load generators on the other, so a server's CPU
// figures are its own; soak.ts uses the same split when it starts its server.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

export const SERVER_CORE = '0';
export const LOADGEN_CORE = '1';

/** Whether processes can be pinned here: taskset installed and at least two cores. */
export function canPin(): boolean {
  return cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
}

/** The hard open-file limit of this shell: what a bench process may raise its own limit to. */
export function hardFdLimit(): number {
  return Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || 1024;
}

/** `argv` run with the open-file limit raised to `fdLimit` and, when `pin`, on `core` alone. */
export function pinnedCommand(core: string, argv: string[], fdLimit: number, pin: boolean): string[] {
  const out = ['prlimit', `--nofile=${fdLimit}:${fdLimit}`];
  if (pin) out.push('taskset', '-c', core);
  return [...out, ...argv];
}
