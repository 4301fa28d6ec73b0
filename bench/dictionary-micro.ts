// How much of the window a one-shot compression should be primed with (ONE_SHOT_MIN_DICTIONARY in
// src/extensions/deflate-sender.ts): the CPU of zlib's one-shot call and the bytes it produces, per message size and
// dictionary length, on two streams of distinct messages (the load generator's JSON, and chat lines drawn from a
// few hundred words, whose text gains more from older history). Not a test: it prints figures.
// Run: npm run build && node dist/bench/dictionary-micro.js [--quick]
import os from 'node:os';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { ONE_SHOT_MIN_DICTIONARY } from '../src/extensions/deflate-sender.js';
import { makePayload } from './lib/payload.js';

const QUICK = process.argv.includes('--quick');
const SIZES = [128, 512, 1024, 2048, 8192];
const WINDOW = 8192;
const MESSAGES = 400;
const RULE = -1;
const DICTIONARIES = [0, 1024, 2048, 4096, WINDOW, RULE];

const WORDS = (
  'time person year way day thing man world life hand part child eye woman place work week case point government ' +
  'company number group problem fact be have do say get make go know take see come think look want give use find ' +
  'tell ask work seem feel try leave call good new first last long great little own other old right big high ' +
  'different small large next early young important few public bad same able to of in for on with at by from up ' +
  'about into over after beneath under above the and a that I it not he as you this but his they her she or an will ' +
  'my one all would there their what so out if who get which go me when make can like no just him know take people ' +
  'into year your some could them see other than then now look only come its over think also back after use two ' +
  'how our work first well way even new want because any these give day most us deploy server metrics dashboard ' +
  'latency release rollback ticket review merge branch build cache queue socket message channel room lobby'
).split(' ');

/** Chat lines of about `size` bytes: one of 40 users, a timestamp, and words picked by a fixed LCG. */
function chatLines(size: number, count: number): Buffer[] {
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  return Array.from({ length: count }, () => {
    let text = '';
    while (text.length < size - 90) text += `${WORDS[next(WORDS.length)]} `;
    const line = {
      type: 'message',
      room: 'general',
      user: `user_${next(40) * 7919}`,
      ts: 1764763200000 + next(1e7),
      text,
    };
    return Buffer.from(JSON.stringify(line));
  });
}

function primed(history: Buffer, dictionary: number, input: number): Buffer {
  const want = dictionary === RULE ? Math.max(ONE_SHOT_MIN_DICTIONARY, 2 * input) : dictionary;
  return history.subarray(Math.max(0, history.length - want));
}

/** Best-of-rounds µs of CPU per message and mean compressed bytes, priming each call with `dictionary` bytes. */
function measure(messages: Buffer[], dictionary: number): { us: number; ratio: number } {
  let best = Number.POSITIVE_INFINITY;
  let bytes = 0;
  let raw = 0;
  for (let r = 0; r < (QUICK ? 3 : 9); r++) {
    // The histories are cut before the clock starts: only zlib's work is timed.
    const histories = messages.map((_, i) => Buffer.concat(messages.slice(0, i)).subarray(-WINDOW));
    bytes = 0;
    raw = 0;
    const c0 = process.cpuUsage();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const dict = primed(histories[i]!, dictionary, m.length);
      const out = deflateRawSync(m, {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        windowBits: 13,
        level: 6,
        memLevel: 8,
        chunkSize: Math.max(zlibConstants.Z_MIN_CHUNK, m.length + 64),
        ...(dict.length > 0 ? { dictionary: dict } : {}),
      });
      bytes += out.length - 4;
      raw += m.length;
    }
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / messages.length);
  }
  return { us: best, ratio: bytes / raw };
}

function main(): void {
  const label = (d: number) => (d === RULE ? `rule (≥${ONE_SHOT_MIN_DICTIONARY / 1024} KiB, 2× message)` : `${d} B`);
  process.stdout.write(
    `dictionary-micro: ${MESSAGES} distinct messages per size, one-shot level 6, windowBits 13, best of ` +
      `${QUICK ? 3 : 9} rounds, Node ${process.version}, ${os.cpus()[0]?.model.trim()}, ${new Date().toISOString()}\n` +
      'Each cell: µs of CPU per message, compressed size as % of the original.\n\n',
  );
  process.stdout.write(
    `| payload | size | ${DICTIONARIES.map(label).join(' | ')} |\n|---|---:|${DICTIONARIES.map(() => '---:').join('|')}|\n`,
  );
  for (const kind of ['json', 'chat'] as const) {
    for (const size of SIZES) {
      const messages =
        kind === 'json'
          ? Array.from({ length: MESSAGES }, (_, i) => makePayload(size, true, i))
          : chatLines(size, MESSAGES);
      const cells = DICTIONARIES.map((d) => {
        const m = measure(messages, d);
        return `${m.us.toFixed(1)} µs, ${(m.ratio * 100).toFixed(1)} %`;
      });
      process.stdout.write(`| ${kind} | ${size} B | ${cells.join(' | ')} |\n`);
    }
  }
}

main();
