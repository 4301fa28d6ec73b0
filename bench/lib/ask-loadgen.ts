// The parent's side of one load-generator job: send it over IPC, wait for the one reply, fail on silence or an early
// exit. Shared by bench/run.ts and bench/variant-ab.ts.
import type { ChildProcess } from 'node:child_process';
import type { Job, JobReply, Metrics } from '../loadgen.js';

export function askLoadgen(proc: ChildProcess, job: Job, limitMs: number): Promise<Metrics> {
  return new Promise<Metrics>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`load generator gave no answer in ${limitMs / 1000} s`)), limitMs);
    proc.once('message', (reply: JobReply) => {
      clearTimeout(timer);
      if (reply.ok) resolve(reply.metrics);
      else reject(new Error(reply.error));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load generator exited with ${code}`));
    });
    proc.send(job);
  });
}
