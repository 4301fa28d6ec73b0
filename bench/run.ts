// `npm run bench`: switchboard's demo server against an equivalent ws@8 server (bench/ws-server.ts), each in its own
// process pinned to core 0, driven by a load generator process (bench/loadgen.ts) pinned to core 1; servers alternate
// A B A B per workload; medians and ratios go to bench/results/<date>.json and bench/results/latest.md.
//   node dist/bench/run.js [--rounds 3] [--quick] [--only id,id,deflate-*] [--group compression] [--profile] [--readme]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Job, Metrics } from './loadgen.js';
import { askLoadgen } from './lib/ask-loadgen.js';
import { canPin, hardFdLimit, LOADGEN_CORE, pinnedCommand, SERVER_CORE } from './lib/cores.js';
import { listeningPort } from './lib/listening.js';
import { summarizeProfile } from './lib/profile.js';
import {
  type BenchResults,
  type ComparisonResult,
  type ProfileSummary,
  renderReport,
  type Row,
  type WorkloadResult,
} from './lib/render.js';
import { median, readProcRss } from './lib/stats.js';
import {
  BROADCAST_METRICS,
  type Comparison,
  ECHO_METRICS,
  IDLE_METRICS,
  type JobSpec,
  matchesId,
  type ServerName,
  type Workload,
} from './lib/workload.js';
import { deflateWorkloads } from './workloads-deflate.js';
import { main as http2Bench } from './http2.js';
import { main as redisBroadcast } from './redis-broadcast.js';
import { main as soak } from './soak.js';
import { updateReadme } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');

function workloads(quick: boolean, fdHard: number): { all: Workload[]; comparisons: Comparison[] } {
  const warmupMs = quick ? 300 : 1000;
  const durationMs = quick ? 1000 : 4000;
  const plain = { switchboard: 'off', ws: 'off' };
  const echo = (
    id: string,
    title: string,
    size: number,
    window: number,
    connections: number,
    target?: number,
  ): Workload => ({
    id,
    title,
    servers: plain,
    job: { kind: 'echo', connections, size, window, warmupMs, durationMs, deflate: false },
    metrics: ECHO_METRICS(target),
  });
  const broadcast = (
    id: string,
    subscribers: number,
    servers: Workload['servers'],
    size: number,
    deflate: boolean,
    target: number,
  ): Workload => ({
    id,
    title: `broadcast${deflate ? ' deflate' : ''} ${size} B → ${subscribers} subs`,
    servers,
    job: {
      kind: 'broadcast',
      subscribers,
      size,
      window: 16,
      // Warm up by deliveries, not messages: 10,000 subscribers need fewer messages than 1,000.
      warmupMessages: Math.max(16, Math.ceil((quick ? 50_000 : 200_000) / subscribers)),
      durationMs,
      drainMs: 15_000,
      deflate,
    },
    metrics: BROADCAST_METRICS(target),
  });
  const idle = (id: string, connections: number): Workload => ({
    id,
    title: `idle ${connections} connections`,
    servers: plain,
    job: { kind: 'idle', connections, concurrency: 64, settleMs: quick ? 500 : 2000 },
    metrics: IDLE_METRICS(1.5),
  });
  // The most connections one process may hold: the hard fd limit, less room for the process's own descriptors.
  const maxConns = Math.max(1000, fdHard - 1000);
  const deflate = deflateWorkloads(quick);
  const all: Workload[] = [
    echo('echo-32-w1', 'echo 32 B, 50 conns, window 1', 32, 1, 50, 0.67),
    echo('echo-32-w16', 'echo 32 B, 50 conns, window 16', 32, 16, 50, 0.67),
    echo('echo-16k-w1', 'echo 16 KiB, 50 conns, window 1', 16384, 1, 50),
    echo('echo-16k-w16', 'echo 16 KiB, 50 conns, window 16', 16384, 16, 50),
    echo('latency-32', 'round trip 32 B, 1 conn', 32, 1, 1),
    broadcast('broadcast-1k', quick ? 500 : 1000, plain, 32, false, 2),
    broadcast('broadcast-10k', quick ? 2000 : 10_000, plain, 32, false, 2),
    idle('idle-10k', quick ? 2000 : 10_000),
    idle('idle-max', quick ? 4000 : maxConns),
    {
      id: 'echo-deflate',
      title: 'echo deflate 2 KiB JSON, 50 conns, window 1',
      servers: { switchboard: 'dedicated', ws: 'on' },
      group: 'compression',
      job: { kind: 'echo', connections: 50, size: 2048, window: 1, warmupMs, durationMs, deflate: true },
      metrics: ECHO_METRICS(),
    },
    {
      ...broadcast('broadcast-deflate-1k', quick ? 500 : 1000, { switchboard: 'shared', ws: 'on' }, 2048, true, 5),
      group: 'compression',
    },
    ...deflate.workloads,
  ];
  return { all, comparisons: deflate.comparisons };
}

// ---- processes ---------------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

let pinning = true;
let fdHard = 1024;

/** `prlimit` raises the soft fd limit to the hard one; `taskset` pins to a core; both exec the real command. */
function wrap(core: string, argv: string[]): string[] {
  return pinnedCommand(core, argv, fdHard, pinning);
}

interface RunningServer {
  proc: ChildProcess;
  pid: number;
  port: number;
}

async function startServer(
  name: ServerName,
  compression: string,
  nodeFlags: string[] = [],
  extraArgs: string[] = [],
): Promise<RunningServer> {
  const script =
    name === 'switchboard'
      ? [
          join(ROOT, 'bin', 'switchboard.js'),
          'serve',
          '--host',
          '127.0.0.1',
          '--port',
          '0',
          '--compression',
          compression,
          '--shutdown-timeout',
          '500',
          ...extraArgs,
        ]
      : [join(ROOT, 'dist', 'bench', 'ws-server.js'), '--port', '0', '--compression', compression, ...extraArgs];
  const [cmd, ...args] = wrap(SERVER_CORE, [process.execPath, ...nodeFlags, ...script]);
  const proc = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(proc);
  const port = await listeningPort(proc, name);
  proc.stdout!.resume();
  return { proc, pid: proc.pid!, port };
}

/** SIGKILL by default; graceful (SIGINT, so --cpu-prof writes its file) when asked, bounded. */
async function stopServer(server: RunningServer, graceful = false): Promise<void> {
  const { proc } = server;
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(graceful ? 'SIGINT' : 'SIGKILL');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceful ? 15_000 : 5_000);
    await exited;
    clearTimeout(timer);
  }
  children.delete(proc);
}

let ticks = 100;

async function runLoadgen(spec: JobSpec, server: RunningServer): Promise<Metrics> {
  const job = { ...spec, port: server.port, serverPid: server.pid, ticks } as Job;
  const [cmd, ...args] = wrap(LOADGEN_CORE, [process.execPath, join(ROOT, 'dist', 'bench', 'loadgen.js')]);
  const proc = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(proc);
  const limitMs = 180_000;
  try {
    return await askLoadgen(proc, job, limitMs);
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    children.delete(proc);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function runOnce(w: Workload, name: ServerName): Promise<Metrics> {
  const server = await startServer(name, w.servers[name], w.nodeFlags ?? [], w.args?.[name] ?? []);
  try {
    await sleep(300);
    const metrics = await runLoadgen(w.job, server);
    metrics.serverRssEndMiB = readProcRss(server.pid) / 2 ** 20;
    return metrics;
  } finally {
    await stopServer(server);
  }
}

// ---- results -----------------------------------------------------------------------------------------------------

function rowsFor(w: Workload, runs: WorkloadResult['runs']): Row[] {
  return w.metrics.map((m) => {
    const scale = m.scale ?? 1;
    const values = (name: ServerName) => runs[name].map((r) => (r[m.key] ?? Number.NaN) / scale);
    const sbValues = values('switchboard');
    const wsValues = values('ws');
    const pick = m.better === 'zero' ? (v: number[]) => (v.length ? Math.max(...v) : Number.NaN) : median;
    const sb = pick(sbValues);
    const ws = pick(wsValues);
    const ratio = sb / ws;
    const range = (v: number[]): [number, number] =>
      v.length ? [Math.min(...v), Math.max(...v)] : [Number.NaN, Number.NaN];
    const row: Row = {
      label: m.label,
      unit: m.unit,
      better: m.better,
      switchboard: sb,
      ws,
      ratio,
      range: { switchboard: range(sbValues), ws: range(wsValues) },
    };
    if (m.better === 'zero') {
      row.target = '= 0';
      row.pass = sb === 0;
    } else if (m.limit !== undefined) {
      row.target = `≤ ${m.limit} ${m.unit}`;
      row.pass = sb <= m.limit;
    } else if (m.target !== undefined && m.better !== 'info') {
      row.target = `${m.better === 'lower' ? '≤' : '≥'} ${m.target}×`;
      row.pass = m.better === 'lower' ? ratio <= m.target : ratio >= m.target;
    }
    return row;
  });
}

function cpuModel(): string {
  return cpus()[0]?.model.trim() ?? 'unknown CPU';
}

function wsVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'ws', 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

// ---- profiles ----------------------------------------------------------------------------------------------------

const DEFAULT_PROFILED = ['echo-32-w1', 'echo-32-w16', 'broadcast-1k', 'idle-10k'];

/** --cpu-prof passes of both servers on `ids` (the default four, or what --only / --group selected). */
async function profile(all: Workload[], ids: string[], dir: string): Promise<ProfileSummary[]> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out: ProfileSummary[] = [];
  for (const id of ids) {
    const w = all.find((x) => x.id === id);
    if (!w) continue;
    for (const name of ['switchboard', 'ws'] as const) {
      const file = `${name}-${id}.cpuprofile`;
      const spawned = performance.now();
      const server = await startServer(
        name,
        w.servers[name],
        ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${file}`],
        w.args?.[name] ?? [],
      );
      let window = { fromMs: 0, toMs: Number.POSITIVE_INFINITY };
      try {
        await sleep(300);
        const fromMs = performance.now() - spawned;
        await runLoadgen(w.job, server);
        window = { fromMs, toMs: performance.now() - spawned };
      } finally {
        await stopServer(server, true);
      }
      try {
        const summary = summarizeProfile(join(dir, file), name, w.title, window);
        out.push(summary);
        process.stdout.write(
          `profile ${name} ${id}: top ${summary.top
            .slice(0, 5)
            .map((f) => `${f.name} ${f.selfPct.toFixed(1)}%`)
            .join(', ')}\n`,
        );
      } catch (err) {
        process.stdout.write(`profile ${name} ${id}: no profile written (${(err as Error).message})\n`);
      }
    }
  }
  return out;
}

/** Whether a workload (or a separate bench: redis-broadcast, http2, soak) is selected by --only / --group. */
type Wanted = (id: string, group?: string) => boolean;

function selection(only: string | undefined, group: string | undefined): Wanted {
  const patterns = only?.split(',').map((s) => s.trim());
  return (id, g) =>
    (patterns === undefined && group === undefined) ||
    (patterns !== undefined && matchesId(id, patterns)) ||
    (group !== undefined && g === group);
}

/** Consecutive workloads of one batch run interleaved; every other workload is a batch of its own. */
function batches(selected: Workload[]): Workload[][] {
  const out: Workload[][] = [];
  for (const w of selected) {
    const last = out.at(-1);
    if (w.batch !== undefined && last?.[0]?.batch === w.batch) last.push(w);
    else out.push([w]);
  }
  return out;
}

function compare(c: Comparison, results: WorkloadResult[]): ComparisonResult | null {
  const num = results.find((r) => r.id === c.numerator);
  const den = results.find((r) => r.id === c.denominator);
  if (!num || !den) return null;
  const ratio = (name: ServerName) =>
    median(num.runs[name].map((m) => m[c.key] ?? Number.NaN)) /
    median(den.runs[name].map((m) => m[c.key] ?? Number.NaN));
  const sb = ratio('switchboard');
  return {
    title: c.title,
    switchboard: sb,
    ws: ratio('ws'),
    ...(c.max !== undefined ? { target: `≤ ${c.max}×`, pass: sb <= c.max } : {}),
  };
}

// ---- cross-node broadcast (Redis) ---------------------------------------------------------------------------------

/** Runs bench/redis-broadcast.ts (1 node vs 2 nodes) when selected and a redis-server is installed. */
async function crossNodeRun(quick: boolean, wanted: Wanted): Promise<BenchResults['crossNode'] | null> {
  if (!wanted('redis-broadcast')) return null;
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    process.stdout.write('  redis-broadcast skipped: no redis-server (apt-get install redis-server)\n');
    return null;
  }
  return redisBroadcast(['--clients', quick ? '100' : '200', '--messages', quick ? '500' : '2000']);
}

/** Runs bench/http2.ts (1,000 WebSockets over 10 HTTP/2 sessions vs over 1,000 HTTP/1.1 connections) when selected. */
async function http2Run(quick: boolean, wanted: Wanted): Promise<BenchResults['http2'] | null> {
  if (!wanted('http2')) return null;
  return http2Bench(quick ? ['--quick'] : []);
}

// ---- soak ---------------------------------------------------------------------------------------------------------

/** Runs bench/soak.ts (the demo server under churn and broadcast load) when selected; it writes its own report. */
async function soakRun(quick: boolean, wanted: Wanted): Promise<void> {
  if (!wanted('soak')) return;
  const result = await soak(['--seconds', quick ? '30' : '180', '--connections', quick ? '1000' : '3000']);
  if (result.errors.length > 0)
    process.stdout.write(`  soak: ${result.errors.length} error(s), see bench/results/soak-*.md\n`);
}

// ---- main --------------------------------------------------------------------------------------------------------

const USAGE = `usage: npm run bench -- [--quick] [--rounds N] [--only ID[,ID...]] [--group NAME] [--profile] [--readme]
  --quick         shorter runs, fewer connections, one round (a smoke test, not figures to publish)
  --rounds N      runs per server and workload, alternating (1..20; default 3)
  --only IDS      workloads by id, comma-separated; * matches any run of characters (e.g. 'deflate-echo-*')
  --group NAME    every workload of a group (e.g. compression)
  --profile       CPU profiles of both servers (on four default workloads, or on the selected ones)
  --readme        rewrite README.md's benchmark section from this run`;

/** A flag this bench does not know, or a bad value: said on stderr with the usage, exit code 2. */
class UsageError extends Error {}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        rounds: { type: 'string' },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        group: { type: 'string' },
        profile: { type: 'boolean', default: false },
        readme: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function main(): Promise<void> {
  const { values } = parseFlags();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const quick = values.quick ?? false;
  const rounds = values.rounds ? Number(values.rounds) : quick ? 1 : 3;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new UsageError('--rounds must be 1..20');

  pinning = canPin();
  if (pinning) spawnSync('taskset', ['-p', '-c', LOADGEN_CORE, String(process.pid)], { stdio: 'ignore' });
  fdHard = hardFdLimit();
  ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  if (spawnSync('prlimit', ['--version']).status !== 0) throw new Error('prlimit (util-linux) is needed');

  const { all, comparisons } = workloads(quick, fdHard);
  const partial = values.only !== undefined || values.group !== undefined;
  const wanted = selection(values.only, values.group);
  const selected = all.filter((w) => wanted(w.id, w.group));
  if (values.group !== undefined && !all.some((w) => w.group === values.group)) {
    throw new UsageError(`--group: no workload is in group "${values.group}"`);
  }
  const startedAt = new Date();
  const load0 = loadavg();
  const conditions = [
    pinning
      ? `servers pinned to core ${SERVER_CORE}, load generator (one process per run, raw sockets, pre-built masked frames) to core ${LOADGEN_CORE} with taskset`
      : 'NOT pinned: taskset missing or fewer than 2 cores',
    `open-file limit: soft raised to the hard limit ${fdHard} with prlimit for servers and load generator (idle-max uses ${Math.max(1000, fdHard - 1000)})`,
    'switchboard: `node bin/switchboard.js serve --compression off|dedicated|shared` (the demo, heartbeat on); ws: bench/ws-server.ts, `perMessageDeflate` false unless the workload compresses (then `true`: ws defaults, threshold 1024 B, or `{ threshold }` with the same --compression-threshold as switchboard)',
    "deflate-* workloads: switchboard `dedicated` vs ws `perMessageDeflate`, both negotiating context takeover both ways and window 15 both ways (the client offers `permessage-deflate; client_max_window_bits` like a browser; both answer a bare `permessage-deflate`); `-t0`: both thresholds 0 (compress everything), `-default`: each library's default threshold; the client sends pre-compressed messages (no context, valid under takeover) cycling through distinct JSON payloads",
    'messages are text; echo and broadcast use the demo contract on 127.0.0.1; a fresh server process per run',
    '"per server CPU-second" rows divide work by the server process\'s CPU time: the throughput it would reach with its core to itself; they hold up when other processes share the core, the wall-clock rates do not',
    `load average at start: ${load0.map((x) => x.toFixed(2)).join(' ')} (other work on this machine makes numbers noisy)`,
  ];
  process.stdout.write(
    `bench: ${selected.length} workload(s) × ${rounds} round(s) × 2 servers${quick ? ' (quick)' : ''}\n`,
  );

  const results: WorkloadResult[] = [];
  for (const batch of batches(selected)) {
    const state = batch.map(() => ({
      runs: { switchboard: [], ws: [] } as WorkloadResult['runs'],
      errors: [] as string[],
    }));
    for (let r = 0; r < rounds; r++) {
      for (const [i, w] of batch.entries()) {
        const { runs, errors } = state[i]!;
        for (const name of ['switchboard', 'ws'] as const) {
          try {
            const m = await runOnce(w, name);
            runs[name].push(m);
            const key = w.metrics[0]!.key;
            const cpuKey = w.metrics.find((x) => x.key.startsWith('serverCpuUs'))?.key ?? '';
            process.stdout.write(
              `  ${w.id} round ${r + 1} ${name.padEnd(11)} ${key}=${(m[key] ?? Number.NaN).toFixed(1)} ${cpuKey}=${(m[cpuKey] ?? Number.NaN).toFixed(2)} loadgenCPU=${(m.loadgenCpuPct ?? Number.NaN).toFixed(0)}%\n`,
            );
          } catch (err) {
            const msg = `${name} round ${r + 1}: ${(err as Error).message}`;
            errors.push(msg);
            process.stdout.write(`  ${w.id} ${msg}\n`);
          }
        }
      }
    }
    for (const [i, w] of batch.entries()) {
      const { runs, errors } = state[i]!;
      const shown = (name: ServerName) => [w.servers[name], ...(w.args?.[name] ?? [])].join(' ');
      results.push({
        id: w.id,
        title: w.title,
        servers: { switchboard: shown('switchboard'), ws: shown('ws') },
        params: { ...w.job },
        runs,
        errors,
        rows: rowsFor(w, runs),
      });
    }
  }
  const compared = comparisons.map((c) => compare(c, results)).filter((c) => c !== null);

  const crossNode = await crossNodeRun(quick, wanted);
  const http2 = await http2Run(quick, wanted);
  await soakRun(quick, wanted);
  const profiled = partial ? selected.map((w) => w.id) : DEFAULT_PROFILED;
  const profiles = values.profile ? await profile(all, profiled, join(RESULTS, 'profiles')) : [];
  const finishedAt = new Date();
  conditions.push(
    `load average at end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const date = startedAt.toISOString().slice(0, 10);
  const bench: BenchResults = {
    version: 1,
    date,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    node: process.version,
    ws: wsVersion(),
    cpu: cpuModel(),
    cores: cpus().length,
    kernel: release(),
    quick,
    rounds,
    conditions,
    workloads: results,
    ...(compared.length > 0 ? { comparisons: compared } : {}),
    profiles,
    ...(crossNode ? { crossNode } : {}),
    ...(http2 ? { http2 } : {}),
  };
  mkdirSync(RESULTS, { recursive: true });
  const report = renderReport(bench);
  const jsonFile = join(RESULTS, quick || partial ? `${date}-partial.json` : `${date}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(bench, null, 2)}\n`);
  // A quick or partial run must not replace the last full report.
  if (!quick && !partial) writeFileSync(join(RESULTS, 'latest.md'), report);
  process.stdout.write(`\n${report}\nresults: ${jsonFile}\n`);
  if (values.readme) updateReadme(bench);
}

main().then(
  () => {
    killAll();
  },
  (err: unknown) => {
    killAll();
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
