// Where compressing an outgoing message starts to pay (DEFAULT_COMPRESSION_THRESHOLD): the CPU of our sending side's
// compress() and the bytes it saves, per message size, on a stream of distinct JSON messages, with context takeover
// ('dedicated', on a live compressor and, for comparison, one-shot calls primed with the window, as beyond the pool's
// cap) and without ('shared', one payload for every peer). Not a test: it prints figures.
// Run: npm run build && node dist/bench/threshold-micro.js [--quick]
import os from 'node:os';
import { DeflateSender } from '../src/extensions/deflate-sender.js';
import { LiveDeflate, LiveDeflatePool } from '../src/extensions/live-deflate.js';
import { PerMessageDeflate, resolveCompression } from '../src/extensions/permessage-deflate.js';
import { makePayload } from './lib/payload.js';

const QUICK = process.argv.includes('--quick');
const SIZES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
const MESSAGES = 512;

/** Frame header bytes of a server frame carrying `n` payload bytes (RFC 6455 §5.2). */
function headerBytes(n: number): number {
  return n < 126 ? 2 : n < 65536 ? 4 : 10;
}

/**
 * µs of CPU (user + system) per message for compressing the whole stream once: the best of several rounds, because
 * the 2-core machine is shared and a preempted round says nothing about the code.
 */
function perMessageUs(run: () => number): { us: number; bytes: number } {
  let best = Number.POSITIVE_INFINITY;
  let bytes = 0;
  for (let r = 0; r < (QUICK ? 3 : 9); r++) {
    const c0 = process.cpuUsage();
    bytes = run();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / MESSAGES);
  }
  return { us: best, bytes: bytes / MESSAGES };
}

function main(): void {
  // First, while the process has freed nothing that the compressors' allocations could reuse.
  const liveKiB = liveMemory();
  const dedicated = resolveCompression('dedicated')!;
  const shared = resolveCompression('shared')!;
  const takeover = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const noContext = { ...takeover, serverNoContextTakeover: true };
  process.stdout.write(
    `threshold-micro: ${MESSAGES} distinct JSON messages per size, best of ${QUICK ? 3 : 9} rounds, ` +
      `Node ${process.version}, ${os.cpus()[0]?.model.trim()}, ${new Date().toISOString()}\n\n`,
  );
  process.stdout.write(
    '| size | raw frame | dedicated frame | dedicated CPU | saved per µs | one-shot CPU | shared frame | shared CPU |\n' +
      '|---:|---:|---:|---:|---:|---:|---:|---:|\n',
  );
  for (const size of SIZES) {
    const messages = Array.from({ length: MESSAGES }, (_, i) => makePayload(size, true, i));
    const raw = size + headerBytes(size);
    const run = (pmd: PerMessageDeflate, stateless: boolean) => () => {
      let total = 0;
      for (const m of messages) {
        const out = (stateless ? pmd.compressStateless(m) : pmd.compress(m)) as Buffer;
        total += out.length + headerBytes(out.length);
      }
      return total;
    };
    // A fresh connection per size; the first round warms its window, later rounds run with it full, as a live one.
    const ded = perMessageUs(run(new PerMessageDeflate(takeover, 'server', dedicated), false));
    const sha = perMessageUs(run(new PerMessageDeflate(noContext, 'server', shared), true));
    // The same stream through a sender whose pool has no room: every message a one-shot call primed with the window.
    const oneShot = new DeflateSender(15, true, dedicated, new LiveDeflatePool(0));
    const one = perMessageUs(() => {
      for (const m of messages) {
        oneShot.compress(m);
        oneShot.commit(m);
      }
      return 0;
    });
    const savedPerUs = (raw - ded.bytes) / ded.us;
    process.stdout.write(
      `| ${size} B | ${raw} B | ${ded.bytes.toFixed(1)} B | ${ded.us.toFixed(2)} µs | ${savedPerUs.toFixed(1)} B | ${one.us.toFixed(2)} µs | ` +
        `${sha.bytes.toFixed(1)} B | ${sha.us.toFixed(2)} µs |\n`,
    );
  }
  process.stdout.write(
    `\nRSS per live compressor (windowBits 13, memLevel 8, window full): ${liveKiB.toFixed(0)} KiB\n`,
  );
}

/** RSS of one live compressor once its 8 KiB window is full (the figure behind MAX_LIVE_COMPRESSORS). */
function liveMemory(): number {
  const messages = Array.from({ length: 8 }, (_, i) => makePayload(2048, true, i));
  const before = process.memoryUsage().rss;
  const lives = Array.from({ length: 500 }, () => {
    const live = new LiveDeflate({ windowBits: 13, level: 6, memLevel: 8, dictionary: Buffer.alloc(0) });
    for (const m of messages) live.compress(m);
    return live;
  });
  const perLive = (process.memoryUsage().rss - before) / lives.length / 1024;
  for (const live of lives) live.close();
  return perLive;
}

main();
