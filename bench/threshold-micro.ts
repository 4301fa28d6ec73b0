// Where compressing an outgoing message starts to pay (DEFAULT_COMPRESSION_THRESHOLD): the CPU of our sending side's
// compress() and the bytes it saves, per message size, on a stream of distinct JSON messages, with context takeover
// ('dedicated') and without ('shared', one payload for every peer). Not a test: it prints figures.
// Run: npm run build && node dist/bench/threshold-micro.js [--quick]
import os from 'node:os';
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
    '| size | raw frame | dedicated frame | dedicated CPU | saved per µs | shared frame | shared CPU |\n' +
      '|---:|---:|---:|---:|---:|---:|---:|\n',
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
    const savedPerUs = (raw - ded.bytes) / ded.us;
    process.stdout.write(
      `| ${size} B | ${raw} B | ${ded.bytes.toFixed(1)} B | ${ded.us.toFixed(2)} µs | ${savedPerUs.toFixed(1)} B | ` +
        `${sha.bytes.toFixed(1)} B | ${sha.us.toFixed(2)} µs |\n`,
    );
  }
}

main();
