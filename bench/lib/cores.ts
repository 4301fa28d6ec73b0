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
