// Message payloads for the load generator: filler or chat-like JSON, with the 4-byte sequence number of lib/wire.ts
// at the front; and sets of distinct ones, so a compressor with context takeover does not see one message repeated.
import { writeSeq } from './wire.js';

/**
 * Text payload of `size` bytes: filler, or JSON-like (compressible, like real app traffic) when `compressible`.
 * `variant` changes the JSON's values (not its shape), as consecutive messages of one app differ.
 */
export function makePayload(size: number, compressible: boolean, variant = 0): Buffer {
  let text: string;
  if (compressible) {
    const rows: string[] = [];
    let seed = 42 + variant * 7919;
    let len = 0;
    for (let id = 1 + variant * 13; len < size; id++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const row = `{"id":${id},"name":"user-${seed % 977}","status":"${seed % 3 === 0 ? 'away' : 'online'}","score":${seed % 10007}}`;
      rows.push(row);
      len += row.length + 1;
    }
    text = `0000{"users":[${rows.join(',')}]}`;
  } else {
    text = '0000'.padEnd(size, 'abcdefghijklmnopqrstuvwxyz0123456789');
  }
  const buf = Buffer.from(text.slice(0, size), 'latin1');
  writeSeq(buf, 0);
  return buf;
}

/** How many distinct payloads a run cycles through: enough that one never repeats within a 32 KiB window. */
export function distinctCount(size: number): number {
  return Math.min(1024, Math.max(16, Math.ceil(32768 / Math.max(size, 1))));
}

/** `count` distinct payloads of `size` bytes (one when `count` is 1: the historical workloads). */
export function payloadSet(size: number, compressible: boolean, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => makePayload(size, compressible, i));
}
