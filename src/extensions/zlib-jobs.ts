// Large (de)compressions run on zlib's threadpool, not on the event loop; this bounds how many run at once, process
// wide, so many peers' large messages cannot take every libuv thread from fs and dns (RFC 7692 leaves this to us).
import { deflateRaw, type ZlibOptions } from 'node:zlib';

/** libuv's default pool has 4 threads: leave at least two to everything else. */
const MAX_CONCURRENT = 2;

let running = 0;
const waiting: Array<() => void> = [];

function next(): void {
  running--;
  waiting.shift()?.();
}

/** Raw deflate of `data` on the threadpool, in order of request when the pool is busy. */
export function deflateRawAsync(data: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const start = (): void => {
      running++;
      try {
        deflateRaw(data, options, (err, out) => {
          next();
          if (err) reject(err);
          else resolve(out);
        });
      } catch (err) {
        // Thrown before any job started (bad options, out of memory): its place goes to the next, or it would be
        // lost for good, and a throw from inside next() would escape the previous job's callback.
        next();
        reject(err);
      }
    };
    if (running < MAX_CONCURRENT) start();
    else waiting.push(start);
  });
}
