// What zlib's level and memLevel cost a live compressor (src/extensions/live-deflate.ts) on 2 KiB JSON messages,
// alone (its state stays in the CPU's cache) and taking turns with 49 others (as over 50 busy connections): µs of CPU
// per message and bytes out. The evidence behind "The compression level" in bench/README.md. Not a test: it prints
// figures.
// Run: npm run build && node dist/bench/level-micro.js [--quick]
import os from 'node:os';
import { LiveDeflate } from '../src/extensions/live-deflate.js';
import { makePayload } from './lib/payload.js';

const QUICK = process.argv.includes('--quick');
const LEVELS = [1, 4, 6];
const MEM_LEVELS = [2, 8];
const TURNS = [1, 50];
const PAYLOADS = Array.from({ length: 16 }, (_, i) => makePayload(2048, true, i));

/** Best-of-rounds µs per message and mean bytes, `n` compressors taking turns, 40 messages each per round. */
function measure(n: number, level: number, memLevel: number): { us: number; bytes: number } {
  let best = Number.POSITIVE_INFINITY;
  let bytes = 0;
  for (let r = 0; r < (QUICK ? 2 : 5); r++) {
    const lives = Array.from(
      { length: n },
      () => new LiveDeflate({ windowBits: 13, level, memLevel, dictionary: Buffer.alloc(0) }),
    );
    // Warm-up: every window full before the clock starts.
    for (let i = 0; i < n * 8; i++) lives[i % n]!.compress(PAYLOADS[i % PAYLOADS.length]!);
    const messages = Math.max(2000, n * 40);
    bytes = 0;
    const c0 = process.cpuUsage();
    // Message i goes to compressor i % n, with the payload after the one it had last (never one it just saw).
    for (let i = 0; i < messages; i++) {
      bytes += lives[i % n]!.compress(PAYLOADS[(Math.floor(i / n) + i) % PAYLOADS.length]!).length;
    }
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / messages);
    for (const live of lives) live.close();
  }
  return { us: best, bytes: bytes / Math.max(2000, n * 40) };
}

function main(): void {
  process.stdout.write(
    `level-micro: live compressors (windowBits 13), 2 KiB JSON, best of ${QUICK ? 2 : 5} rounds, ` +
      `Node ${process.version}, ${os.cpus()[0]?.model.trim()}, ${new Date().toISOString()}\n\n`,
  );
  process.stdout.write(
    `| level | memLevel | ${TURNS.map((n) => `${n} taking turns`).join(' | ')} | bytes out |\n|---:|---:|${TURNS.map(() => '---:').join('|')}|---:|\n`,
  );
  for (const level of LEVELS) {
    for (const memLevel of MEM_LEVELS) {
      const cells = TURNS.map((n) => measure(n, level, memLevel));
      process.stdout.write(
        `| ${level} | ${memLevel} | ${cells.map((c) => `${c.us.toFixed(1)} µs`).join(' | ')} | ${cells[0]!.bytes.toFixed(0)} B |\n`,
      );
    }
  }
}

main();
