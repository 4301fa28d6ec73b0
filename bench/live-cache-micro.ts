// Why a live compressor is not always the cheaper one (COLD_GAP_BYTES, COLD_MESSAGE_BYTES in live-deflate.ts): k
// connections with context takeover take turns sending distinct JSON messages, compressed by DeflateSender with
// live compressors always, by the default rule, and never (one-shot calls primed with the window). With many
// connections between two messages of one, its zlib state has left the CPU's cache and costs more than priming a
// fresh, hot one. Not a test: it prints figures.
// Run: npm run build && node dist/bench/live-cache-micro.js [--quick]
import os from 'node:os';
import { DeflateSender } from '../src/extensions/deflate-sender.js';
import { LiveDeflatePool } from '../src/extensions/live-deflate.js';
import { resolveCompression } from '../src/extensions/permessage-deflate.js';
import { distinctCount, payloadSet } from './lib/payload.js';

const QUICK = process.argv.includes('--quick');
const CONNECTIONS = [1, 10, 50, 200];
const SIZES = [256, 2048, 8192];
const CFG = resolveCompression('dedicated')!;

/** A pool that hands out compressors whatever the traffic: the rule switched off. */
class AlwaysLivePool extends LiveDeflatePool {
  override mayTake(): boolean {
    return true;
  }
}

/** µs of CPU per message over `rounds` turns of every connection, after one warm-up turn set; best of 3 runs. */
function perMessageUs(k: number, size: number, makePool: () => LiveDeflatePool): number {
  const messages = payloadSet(size, true, distinctCount(size));
  const turns = Math.max(QUICK ? 4 : 16, Math.ceil((QUICK ? 2000 : 8000) / k));
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    const pool = makePool();
    const senders = Array.from({ length: k }, () => new DeflateSender(15, true, CFG, pool));
    const turn = (t: number): void => {
      for (const s of senders) {
        const m = messages[t % messages.length]!;
        s.compress(m);
        s.commit(m);
      }
    };
    for (let t = 0; t < 4; t++) turn(t);
    const c0 = process.cpuUsage();
    for (let t = 0; t < turns; t++) turn(t);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / (turns * k));
    for (const s of senders) s.dispose();
  }
  return best;
}

function main(): void {
  process.stdout.write(
    `live-cache-micro: distinct JSON messages, k connections in turn, best of 3 runs, ` +
      `Node ${process.version}, ${os.cpus()[0]?.model.trim()}, ${new Date().toISOString()}\n\n` +
      '| size | connections | always live | default rule | one-shot |\n|---:|---:|---:|---:|---:|\n',
  );
  for (const size of SIZES) {
    for (const k of CONNECTIONS) {
      const live = perMessageUs(k, size, () => new AlwaysLivePool(1000));
      const rule = perMessageUs(k, size, () => new LiveDeflatePool(1000));
      const oneShot = perMessageUs(k, size, () => new LiveDeflatePool(0));
      process.stdout.write(
        `| ${size} B | ${k} | ${live.toFixed(1)} µs | ${rule.toFixed(1)} µs | ${oneShot.toFixed(1)} µs |\n`,
      );
    }
  }
}

main();
