// Waits for a spawned demo (or ws) server to print the port it listens on, bounded: shared by the runner and the soak.
import type { ChildProcess } from 'node:child_process';

export function listeningPort(proc: ChildProcess, name: string, ms = 10_000): Promise<number> {
  return new Promise<number>((resolvePort, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start in ${ms / 1000} s: ${out}`)), ms);
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${out}`));
    });
  });
}
