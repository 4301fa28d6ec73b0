// A/B of two or more builds of switchboard on one compressed echo workload: for a change ws has no counterpart for
// (a policy inside our compressor), where the only fair comparison is our own code before and after. Each build's
// demo server runs in turn (A B C, then C B A, ...), pinned like `npm run bench` (server on core 0, load generator on
// core 1); per-run figures and medians go to stdout as markdown. Not a test: it prints figures.
// Run: npm run build && node dist/bench/variant-ab.js TREE... [--size 2048] [--conns 50] [--rounds 6]
//        [--threshold 0|default] [--out FILE]
// A TREE is a built checkout (bin/ and dist/), e.g. `git worktree add ../before HEAD~1` then `npx tsc -b` in it.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Metrics } from './loadgen.js';
import { askLoadgen } from './lib/ask-loadgen.js';
import { canPin, hardFdLimit, LOADGEN_CORE, pinnedCommand, SERVER_CORE } from './lib/cores.js';
import { listeningPort } from './lib/listening.js';
import { distinctCount } from './lib/payload.js';
import { median } from './lib/stats.js';

const LOADGEN = fileURLToPath(new URL('./loadgen.js', import.meta.url));
const FD_LIMIT = hardFdLimit();
const PIN = canPin();

function pinned(core: string, argv: string[], stdio: 'pipe' | 'ipc'): ChildProcess {
  const [cmd, ...args] = pinnedCommand(core, [process.execPath, ...argv], FD_LIMIT, PIN);
  return spawn(cmd!, args, {
    stdio: stdio === 'pipe' ? ['ignore', 'pipe', 'inherit'] : ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

interface Options {
  size: number;
  conns: number;
  threshold: string;
}

async function once(tree: string, o: Options): Promise<Metrics> {
  const serve = [join(tree, 'bin', 'switchboard.js'), 'serve', '--host', '127.0.0.1', '--port', '0'];
  serve.push('--compression', 'dedicated', '--shutdown-timeout', '500');
  if (o.threshold !== 'default') serve.push('--compression-threshold', o.threshold);
  const server = pinned(SERVER_CORE, serve, 'pipe');
  try {
    const port = await listeningPort(server, tree);
    server.stdout!.resume();
    const loadgen = pinned(LOADGEN_CORE, [LOADGEN], 'ipc');
    try {
      return await askLoadgen(
        loadgen,
        {
          kind: 'echo',
          connections: o.conns,
          size: o.size,
          window: 1,
          warmupMs: 1000,
          durationMs: 4000,
          deflate: true,
          distinct: distinctCount(o.size),
          port,
          serverPid: server.pid!,
          ticks: 100,
        },
        120_000,
      );
    } finally {
      loadgen.kill('SIGKILL');
    }
  } finally {
    server.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      size: { type: 'string', default: '2048' },
      conns: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '6' },
      threshold: { type: 'string', default: '0' },
      out: { type: 'string' },
    },
  });
  const o = { size: Number(values.size), conns: Number(values.conns), threshold: values.threshold! };
  const rounds = Number(values.rounds);
  for (const [name, v] of Object.entries({ size: o.size, conns: o.conns, rounds }))
    if (!Number.isInteger(v) || v < 1) throw new TypeError(`--${name} must be a positive integer`);
  if (positionals.length < 2) throw new TypeError('give at least two built trees to compare');
  const trees = positionals.map((t) => resolve(t));
  const cpu = new Map<string, number[]>(trees.map((t) => [t, []]));
  const rss = new Map<string, number[]>(trees.map((t) => [t, []]));
  const wire = new Map<string, number[]>(trees.map((t) => [t, []]));
  const lines = [
    `variant-ab: echo ${o.size} B JSON both ways, ${o.conns} conns, window 1, threshold ${o.threshold}, ` +
      `${rounds} rounds alternated, Node ${process.version}, ${new Date().toISOString()}`,
    '',
    '| round | tree | server CPU / echo | RSS / active connection | bytes on the wire / reply |',
    '|---:|---|---:|---:|---:|',
  ];
  // The heading too, so stdout alone is the whole record.
  process.stdout.write(`${lines.join('\n')}\n`);
  for (let r = 0; r < rounds; r++) {
    for (const tree of r % 2 === 0 ? trees : [...trees].reverse()) {
      const m = await once(tree, o);
      cpu.get(tree)!.push(m.serverCpuUsPerMsg!);
      rss.get(tree)!.push(m.rssPerConnection! / 1024);
      wire.get(tree)!.push(m.wireBytesPerMsg!);
      lines.push(
        `| ${r + 1} | ${tree} | ${m.serverCpuUsPerMsg!.toFixed(1)} µs | ${(m.rssPerConnection! / 1024).toFixed(0)} KiB | ` +
          `${m.wireBytesPerMsg!.toFixed(0)} B |`,
      );
      process.stdout.write(`${lines.at(-1)}\n`);
    }
  }
  lines.push(
    '',
    '| tree | median CPU / echo | min | median RSS / active connection | median bytes on the wire / reply |',
    '|---|---:|---:|---:|---:|',
  );
  for (const t of trees) {
    const c = cpu.get(t)!;
    lines.push(
      `| ${t} | ${median(c).toFixed(1)} µs | ${Math.min(...c).toFixed(1)} µs | ${median(rss.get(t)!).toFixed(0)} KiB | ` +
        `${median(wire.get(t)!).toFixed(0)} B |`,
    );
  }
  const text = `${lines.join('\n')}\n`;
  process.stdout.write(`\n${lines.slice(-2 - trees.length).join('\n')}\n`);
  if (values.out) writeFileSync(values.out, text, { flag: 'a' });
}

main().catch((err: unknown) => {
  process.stderr.write(`variant-ab: ${(err as Error).message}\n`);
  process.exit(2);
});
