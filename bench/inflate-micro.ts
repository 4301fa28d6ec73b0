// Micro-benchmark of the pure-TypeScript inflater (src/extensions/inflate.ts) against one-shot zlib.inflateRawSync,
// with and without the 32 KiB dictionary permessage-deflate passes today. Not a test: it prints figures.
// Run: npm run build && node dist/bench/inflate-micro.js [--quick]
import os from 'node:os';
import zlib from 'node:zlib';
import { Inflater } from '../src/extensions/inflate.js';

const SYNC = zlib.constants.Z_SYNC_FLUSH;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const QUICK = process.argv.includes('--quick');
const BUDGET = 1 << 20;

/** Deterministic JSON chat traffic. */
function chatJson(size: number, seed: number): Buffer {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a / 2 ** 32;
  };
  const words = ['hello', 'there', 'general', 'kenobi', 'lunch?', 'ok', 'see', 'you', 'at', 'noon', '🙂', 'déjà'];
  const parts: string[] = [];
  let bytes = 0;
  while (bytes < size) {
    const text = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => words[Math.floor(rand() * words.length)]);
    const line = `{"type":"chat","room":"r${Math.floor(rand() * 9)}","user":"u${Math.floor(rand() * 999)}","text":"${text.join(' ')}","ts":${1700000000000 + Math.floor(rand() * 1e9)}}`;
    parts.push(line);
    bytes += Buffer.byteLength(line) + 1;
  }
  return Buffer.from(parts.join('\n')).subarray(0, size);
}

function randomBytes(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let a = 12345;
  for (let i = 0; i < size; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    b[i] = a >>> 24;
  }
  return b;
}

/** A message as a peer sends it without context: sync flush, tail removed (RFC 7692 §7.2.1). */
function compress(data: Buffer): Buffer {
  return zlib.deflateRawSync(data, { finishFlush: SYNC }).subarray(0, -4);
}

/**
 * µs of CPU (user + system) per call of `fn`: the best of several rounds of ~minMs each. CPU time, not wall time, and
 * the best round, because the 2-core machine is shared: a preempted round says nothing about the code.
 */
function timeUs(fn: () => void, minMs: number): number {
  let iterations = 1;
  for (;;) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) fn();
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    if (ms >= minMs) break;
    iterations *= ms < minMs / 10 ? 10 : 2;
  }
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < (QUICK ? 3 : 9); r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / iterations);
  }
  return best;
}

let sink = 0;
function ours(inf: Inflater, payload: Buffer): () => void {
  const onChunk = (c: Buffer): void => {
    sink += c.length;
  };
  return () => {
    inf.begin(Number.POSITIVE_INFINITY);
    inf.push(payload);
    inf.end();
    while (inf.run(BUDGET, onChunk) !== 'done');
  };
}

function viaZlib(payload: Buffer, dictionary: Buffer | null): () => void {
  const options: zlib.ZlibOptions = { finishFlush: SYNC, windowBits: 15, maxOutputLength: 2 ** 31 - 1 };
  if (dictionary !== null) options.dictionary = dictionary;
  return () => {
    sink += zlib.inflateRawSync(Buffer.concat([payload, TAIL]), options).length;
  };
}

/** A window-full inflater, as on a connection that has received a few messages. */
function warmInflater(): Inflater {
  const inf = new Inflater({ windowBits: 15, contextTakeover: true });
  ours(inf, compress(chatJson(40_000, 99)))();
  return inf;
}

const minMs = QUICK ? 30 : 200;
const dictionary = chatJson(32 * 1024, 7);
const cases: Array<[string, Buffer]> = [
  ['0 B (empty message)', Buffer.alloc(0)],
  ['30 B chat JSON line', chatJson(30, 1)],
  ['2 KiB JSON', chatJson(2048, 2)],
  ['64 KiB JSON', chatJson(64 * 1024, 3)],
  ['1 MiB JSON', chatJson(1 << 20, 4)],
  ['1 MiB random', randomBytes(1 << 20)],
];

console.log(
  `node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${QUICK ? 'quick' : 'full'} run`,
);
console.log('µs of CPU per message (best of rounds); MB/s of output in brackets for the large ones\n');
console.log(
  ['message', 'compressed', 'ours (32 KiB window)', 'ours (no context)', 'zlib no dict', 'zlib 32 KiB dict'].join(
    ' | ',
  ),
);
for (const [name, data] of cases) {
  const payload = compress(data);
  const a = timeUs(ours(warmInflater(), payload), minMs);
  const a2 = timeUs(ours(new Inflater({ windowBits: 15, contextTakeover: false }), payload), minMs);
  const b = timeUs(viaZlib(payload, null), minMs);
  const c = timeUs(viaZlib(payload, dictionary), minMs);
  const rate = (us: number): string => (data.length >= 65536 ? ` (${(data.length / us).toFixed(0)} MB/s)` : '');
  console.log([name, `${payload.length} B`, ...[a, a2, b, c].map((us) => `${us.toFixed(2)}${rate(us)}`)].join(' | '));
}

// A decompression bomb: 60 MiB of zeros in one ~60 KiB message, sliced by a 1 MiB budget as a server would.
const bombSize = 60 * 1024 * 1024;
const bomb = compress(Buffer.alloc(bombSize));
const inf = new Inflater();
const bombUs = timeUs(ours(inf, bomb), minMs);
const zlibBombUs = timeUs(viaZlib(bomb, null), minMs);
// How long one call holds the event loop, after warm-up: CPU time per call (a shared machine inflates wall time).
const sliceMs: number[] = [];
for (let round = 0; round < 5; round++) {
  inf.begin(Number.POSITIVE_INFINITY);
  inf.push(bomb);
  inf.end();
  for (;;) {
    const c0 = process.cpuUsage();
    const status = inf.run(BUDGET, (c) => {
      sink += c.length;
    });
    const c = process.cpuUsage(c0);
    sliceMs.push((c.user + c.system) / 1000);
    if (status === 'done') break;
  }
}
sliceMs.sort((x, y) => x - y);
const at = (q: number): string => sliceMs[Math.min(sliceMs.length - 1, Math.floor(sliceMs.length * q))]!.toFixed(2);
console.log(
  `\n60 MiB bomb (${bomb.length} B compressed): ours ${(bombSize / bombUs).toFixed(0)} MB/s; per 1 MiB-budget call ` +
    `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms of CPU (${sliceMs.length} calls); zlib one-shot ` +
    `${(bombSize / zlibBombUs).toFixed(0)} MB/s, ${(zlibBombUs / 1000).toFixed(0)} ms of CPU in one call`,
);
if (sink === 0) console.log('(nothing decoded?)');
