// Joins the pieces of one large message into the single Buffer its 'message' event hands over, over several turns
// of the shared CPU budget. The copy lands in fresh memory, and first touching it costs page faults (a few ms per
// MiB on a small VM), so joining a 60 MiB message at once held the event loop for ~200 ms.
import { later } from './cpu-budget.js';

/** Bytes copied per deferred slice; a message at most this large is joined at once. */
export const JOIN_SLICE = 256 * 1024;

/**
 * Copies `parts` (`size` bytes in all) into one new Buffer, about JOIN_SLICE bytes per later() job, then calls
 * `done` with it. Stops, dropping the copy, as soon as `alive()` turns false (the connection stopped reading).
 */
export function joinInSlices(
  parts: readonly Buffer[],
  size: number,
  alive: () => boolean,
  done: (data: Buffer) => void,
): void {
  // Not zero-filled: every byte is overwritten by a part, and zero-filling would touch all of it at once.
  const out = Buffer.allocUnsafeSlow(size);
  let next = 0;
  let offset = 0;
  const step = (): void => {
    if (!alive()) return;
    const stop = offset + JOIN_SLICE;
    while (next < parts.length && offset < stop) {
      const part = parts[next++]!;
      part.copy(out, offset);
      offset += part.length;
    }
    if (next < parts.length) later(step);
    else done(out);
  };
  later(step);
}
