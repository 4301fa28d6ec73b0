// The soak (run by `npm run bench`, or alone): the real demo server (`node bin/switchboard.js serve`) under a few
// thousand connections with churn — clean closes, abrupt RSTs, half-closes (FIN, no close frame), slow readers that
// stop reading — plus broadcast load, for a few minutes. Reports the server's RSS and open descriptors over time, what
// is left open at the end, and any error; the server must then exit on SIGINT with nothing left behind.
//   node dist/bench/soak.js [--seconds 180] [--connections 3000] [--rate 40]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canPin, hardFdLimit, pinnedCommand, SERVER_CORE } from './lib/cores.js';
import { listeningPort } from './lib/listening.js';
import { readProcRss } from './lib/stats.js';
import { clientFrame, clientPayloadOffset, OP_CLOSE, OP_TEXT, patchSeq, RawConn, upgradeRequest } from './lib/wire.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
const SAMPLE_MS = 5_000;
const CHURN_MS = 500;
/** Share of the connections ended (and replaced) per churn tick. */
const CHURN_SHARE = 0.01;
/** At most this share of the connections is a slow reader at any time. */
const SLOW_SHARE = 0.05;
const ECHO_SHARE = 0.15;
const PUBLISHERS = 2;

export interface SoakOptions {
  seconds: number;
  connections: number;
  /** Broadcast messages per second, over all publishers. */
  rate: number;
}

export interface SoakSample {
  t: number;
  rssMiB: number;
  serverFds: number;
  clients: number;
  /** Clients whose 101 arrived (the rest are still connecting or waiting for an answer). */
  upgraded: number;
  /** Clients whose TCP connect has not completed (SYN not yet accepted: the server's backlog is full). */
  connecting: number;
  slow: number;
  churned: number;
  deliveriesPerSec: number;
  echoes: number;
}

export interface SoakResult {
  options: SoakOptions;
  samples: SoakSample[];
  baseline: { rssMiB: number; serverFds: number };
  end: {
    serverFds: number;
    connectionsOpen: Record<string, number>;
    fdLeak: number;
    exitMs: number;
    exitCode: number | null;
  };
  churn: Record<'close' | 'rst' | 'half' | 'slow', number>;
  deliveries: number;
  handshakeFailures: number;
  errors: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function countFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function startServer(errors: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const argv = [process.execPath, join(ROOT, 'bin', 'switchboard.js'), 'serve', '--host', '127.0.0.1', '--port', '0'];
  argv.push('--compression', 'off', '--shutdown-timeout', '1000');
  // A core of its own, as in the other workloads: spawned by `npm run bench` (pinned to the load generator's core) the
  // server would otherwise inherit that one core and share it with the 3,000 clients, fall behind, overflow its
  // accept queue, and the kernel would reset handshakes (2,693 in the 2026-12-02 run; none unpinned).
  const [cmd, ...args] = pinnedCommand(SERVER_CORE, argv, hardFdLimit(), canPin());
  const proc = spawn(cmd!, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stderr!.on('data', (c: Buffer) => {
    for (const line of c.toString().split('\n')) if (line.trim()) errors.push(`server stderr: ${line.trim()}`);
  });
  const port = await listeningPort(proc, 'the demo server');
  proc.stdout!.resume();
  return { proc, port };
}

function scrapeOpen(port: number): Promise<Record<string, number>> {
  return new Promise((resolveScrape, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        const open: Record<string, number> = {};
        for (const m of body.matchAll(/^switchboard_connections_open\{endpoint="(\w+)"\} (\d+)/gm))
          open[m[1]!] = Number(m[2]);
        resolveScrape(open);
      });
    }).on('error', reject);
  });
}

interface Client {
  conn: RawConn;
  echo: boolean;
  slowUntil: number;
  /** The soak ended it on purpose (so a failed handshake is no error). */
  ended: boolean;
  upgraded: boolean;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const errors: string[] = [];
  const { proc, port } = await startServer(errors);
  const pid = proc.pid!;
  let exited = false;
  let stopping = false;
  proc.once('exit', (code, signal) => {
    exited = true;
    if (!stopping) errors.push(`the demo server exited during the soak (code ${code}, signal ${signal})`);
  });
  await sleep(500);
  const baseline = { rssMiB: readProcRss(pid) / 2 ** 20, serverFds: countFds(pid) };
  const churn = { close: 0, rst: 0, half: 0, slow: 0 };
  let deliveries = 0;
  let echoes = 0;
  let handshakeFailures = 0;
  const failureReasons = new Map<string, number>();
  const clients = new Set<Client>();
  const broadcastReq = upgradeRequest(port, '/broadcast');
  const echoReq = upgradeRequest(port, '/echo');
  const closeFrame = clientFrame(OP_CLOSE, Buffer.from([0x03, 0xe8]));
  const echoFrame = clientFrame(OP_TEXT, Buffer.from('soak echo 0123456789'));

  const open = (echo: boolean): Client => {
    const client: Client = {
      conn: new RawConn({
        port,
        request: echo ? echoReq : broadcastReq,
        onFrame: (b0) => {
          if ((b0 & 0x0f) !== OP_TEXT) return;
          if (client.echo) echoes++;
          else deliveries++;
        },
      }),
      echo,
      slowUntil: 0,
      ended: false,
      upgraded: false,
    };
    clients.add(client);
    client.conn.socket.once('close', () => clients.delete(client));
    client.conn.opened.then(
      () => {
        client.upgraded = true;
      },
      () => {},
    );
    client.conn.opened.catch((err: unknown) => {
      // Churn ends some connections before their 101 arrives; only a refusal or a reset of a live one counts.
      if (stopping || client.ended) return;
      handshakeFailures++;
      const why = err instanceof Error ? err.message : String(err);
      failureReasons.set(why, (failureReasons.get(why) ?? 0) + 1);
    });
    return client;
  };

  /** Opens connections until there are `target`, at most 64 handshakes at a time. */
  const fill = async (target: number): Promise<void> => {
    while (clients.size < target && !stopping) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 64 && clients.size < target; i++) {
        batch.push(open(Math.random() < ECHO_SHARE).conn.opened.catch(() => {}));
      }
      await Promise.all(batch);
    }
  };

  const end = (c: Client, mode: keyof typeof churn): void => {
    churn[mode]++;
    c.ended = true;
    const socket = c.conn.socket;
    if (mode === 'rst') c.conn.destroy();
    else if (mode === 'half') socket.end();
    else if (mode === 'close') {
      c.conn.write(closeFrame);
      // The server answers and closes TCP; a reset if it has not within 10 s.
      setTimeout(() => c.conn.destroy(), 10_000).unref();
    } else {
      socket.pause();
      c.slowUntil = performance.now() + 5_000 + Math.random() * 55_000;
    }
  };

  process.stdout.write(`soak: filling ${options.connections} connections on port ${port}\n`);
  await fill(options.connections);
  const publishers = [...clients].filter((c) => !c.echo).slice(0, PUBLISHERS);
  const pubFrame = clientFrame(OP_TEXT, Buffer.alloc(64, 0x61));
  const pubOffset = clientPayloadOffset(pubFrame);
  let seq = 0;
  const publish = setInterval(
    () => {
      for (const p of publishers) {
        patchSeq(pubFrame, pubOffset, seq++ & 0xffffff);
        if (!p.conn.socket.destroyed) p.conn.write(Buffer.from(pubFrame));
      }
    },
    Math.max(1, Math.round((1000 * PUBLISHERS) / options.rate)),
  );
  const echoTimer = setInterval(() => {
    // Only after the 101: a frame written before the request reached the socket would come first (a 400).
    for (const c of clients)
      if (c.echo && c.upgraded && c.slowUntil === 0 && !c.conn.socket.destroyed) c.conn.write(echoFrame);
  }, 1_000);
  const churnTimer = setInterval(() => {
    const now = performance.now();
    const all = [...clients];
    let slow = 0;
    for (const c of all) {
      if (c.slowUntil === 0) continue;
      slow++;
      if (now > c.slowUntil) c.conn.destroy();
    }
    const n = Math.ceil(all.length * CHURN_SHARE);
    for (let i = 0; i < n; i++) {
      const c = all[Math.floor(Math.random() * all.length)]!;
      if (publishers.includes(c) || c.slowUntil !== 0 || c.conn.socket.destroyed) continue;
      if (!c.upgraded) {
        // Still connecting or waiting for its 101: only a reset makes sense.
        end(c, 'rst');
        continue;
      }
      const r = Math.random();
      const mode =
        r < 0.35 ? 'close' : r < 0.7 ? 'rst' : r < 0.9 || slow >= options.connections * SLOW_SHARE ? 'half' : 'slow';
      if (mode === 'slow') slow++;
      end(c, mode);
    }
    void fill(options.connections);
  }, CHURN_MS);

  const samples: SoakSample[] = [];
  const started = performance.now();
  let lastDeliveries = 0;
  while (performance.now() - started < options.seconds * 1000 && !exited) {
    await sleep(SAMPLE_MS);
    if (exited) break;
    const sample: SoakSample = {
      t: Math.round((performance.now() - started) / 1000),
      rssMiB: Math.round((readProcRss(pid) / 2 ** 20) * 10) / 10,
      serverFds: countFds(pid),
      clients: clients.size,
      upgraded: [...clients].filter((c) => c.upgraded).length,
      connecting: [...clients].filter((c) => c.conn.socket.connecting).length,
      slow: [...clients].filter((c) => c.slowUntil !== 0).length,
      churned: churn.close + churn.rst + churn.half + churn.slow,
      deliveriesPerSec: Math.round((deliveries - lastDeliveries) / (SAMPLE_MS / 1000)),
      echoes,
    };
    lastDeliveries = deliveries;
    samples.push(sample);
    process.stdout.write(
      `  t=${sample.t}s rss=${sample.rssMiB} MiB fds=${sample.serverFds} clients=${sample.clients} upgraded=${sample.upgraded} connecting=${sample.connecting} slow=${sample.slow} churned=${sample.churned} deliveries/s=${sample.deliveriesPerSec}\n`,
    );
  }

  // Wind down: no more load; half the rest reset, half closed cleanly; then nothing may stay open on the server.
  stopping = true;
  clearInterval(publish);
  clearInterval(echoTimer);
  clearInterval(churnTimer);
  let i = 0;
  for (const c of clients) {
    c.ended = true;
    if (c.slowUntil !== 0 || i++ % 2 === 0) {
      c.conn.destroy();
    } else {
      c.conn.write(closeFrame);
      setTimeout(() => c.conn.destroy(), 10_000).unref();
    }
  }
  const settleUntil = performance.now() + 30_000;
  let connectionsOpen: Record<string, number> = {};
  let serverFds = countFds(pid);
  while (!exited && performance.now() < settleUntil) {
    await sleep(500);
    serverFds = countFds(pid);
    connectionsOpen = await scrapeOpen(port).catch(() => ({}));
    const open = Object.values(connectionsOpen).reduce((a, b) => a + b, 0);
    if (clients.size === 0 && open === 0 && serverFds <= baseline.serverFds) break;
  }
  const fdLeak = Math.max(0, serverFds - baseline.serverFds);
  // A server that leaked a handle would not exit on SIGINT by itself: time it.
  const exitStarted = performance.now();
  const exitCode = await new Promise<number | null>((resolveExit) => {
    if (exited) return resolveExit(proc.exitCode);
    const kill = setTimeout(() => {
      errors.push('the demo server did not exit within 10 s of SIGINT');
      proc.kill('SIGKILL');
    }, 10_000);
    proc.once('exit', (code) => {
      clearTimeout(kill);
      resolveExit(code);
    });
    proc.kill('SIGINT');
  });
  const exitMs = Math.round(performance.now() - exitStarted);
  if (fdLeak > 0) errors.push(`${fdLeak} descriptor(s) still open on the server after every client left`);
  for (const [endpoint, n] of Object.entries(connectionsOpen)) {
    if (n > 0) errors.push(`${n} connection(s) still open on ${endpoint} after every client left`);
  }
  if (handshakeFailures > 0) {
    const why = [...failureReasons].map(([k, v]) => `${v} × ${k}`).join('; ');
    errors.push(`${handshakeFailures} handshake(s) failed: ${why}`);
  }
  if (exitCode !== 0) errors.push(`the demo server exited with ${exitCode} on SIGINT`);
  return {
    options,
    samples,
    baseline,
    end: { serverFds, connectionsOpen, fdLeak, exitMs, exitCode },
    churn,
    deliveries,
    handshakeFailures,
    errors,
  };
}

/** Writes the RSS curve (CSV) and a summary (markdown) under bench/results; returns the summary. */
export function writeSoakReport(r: SoakResult, date = new Date().toISOString().slice(0, 10)): string {
  mkdirSync(RESULTS, { recursive: true });
  const csv = ['t_s,rss_mib,server_fds,clients,upgraded,connecting,slow_readers,churned,deliveries_per_s,echoes'];
  for (const s of r.samples) {
    csv.push(
      [
        s.t,
        s.rssMiB,
        s.serverFds,
        s.clients,
        s.upgraded,
        s.connecting,
        s.slow,
        s.churned,
        s.deliveriesPerSec,
        s.echoes,
      ].join(','),
    );
  }
  writeFileSync(join(RESULTS, `soak-${date}.csv`), `${csv.join('\n')}\n`);
  const rss = r.samples.map((s) => s.rssMiB);
  const lines = [
    `# Soak ${date}`,
    '',
    `${r.options.seconds} s, ${r.options.connections} connections (${Math.round(ECHO_SHARE * 100)} % /echo, the rest /broadcast), ` +
      `${r.options.rate} broadcasts/s from ${PUBLISHERS} publishers; every ${CHURN_MS} ms ${CHURN_SHARE * 100} % of the connections ` +
      `end (clean close 35 %, RST 35 %, half-close 20 %, slow reader 10 %, at most ${SLOW_SHARE * 100} % slow at once, each ` +
      'reset after 5–60 s) and are replaced. Server: `node bin/switchboard.js serve --compression off` (heartbeat 25 s + 10 s).',
    '',
    `- RSS: ${r.baseline.rssMiB.toFixed(1)} MiB idle; under load min ${Math.min(...rss)} / max ${Math.max(...rss)} / last ${rss.at(-1)} MiB (curve: soak-${date}.csv)`,
    `- churned: ${r.churn.close} clean closes, ${r.churn.rst} RSTs, ${r.churn.half} half-closes, ${r.churn.slow} slow readers`,
    `- broadcast deliveries: ${r.deliveries}`,
    `- at the end: ${r.end.serverFds} server descriptors (idle ${r.baseline.serverFds}: ${r.end.fdLeak} leaked), connections open ${JSON.stringify(r.end.connectionsOpen)}`,
    `- SIGINT → exit in ${r.end.exitMs} ms, code ${r.end.exitCode}`,
    `- errors: ${r.errors.length === 0 ? 'none' : ''}`,
    ...r.errors.slice(0, 20).map((e) => `  - ${e}`),
    '',
    '| t (s) | RSS (MiB) | server fds | clients | upgraded | connecting | slow | churned | deliveries/s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.samples.map(
      (s) =>
        `| ${s.t} | ${s.rssMiB} | ${s.serverFds} | ${s.clients} | ${s.upgraded} | ${s.connecting} | ${s.slow} | ${s.churned} | ${s.deliveriesPerSec} |`,
    ),
    '',
  ];
  const md = lines.join('\n');
  writeFileSync(join(RESULTS, `soak-${date}.md`), md);
  return md;
}

export async function main(argv: string[]): Promise<SoakResult> {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: 'string' }, connections: { type: 'string' }, rate: { type: 'string' } },
  });
  const options: SoakOptions = {
    seconds: Number(values.seconds ?? 180),
    connections: Number(values.connections ?? 3000),
    rate: Number(values.rate ?? 40),
  };
  for (const [k, v] of Object.entries(options))
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`--${k} must be a positive integer`);
  const result = await runSoak(options);
  process.stdout.write(`\n${writeSoakReport(result)}\n`);
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (r) => {
      process.exitCode = r.errors.length > 0 ? 1 : 0;
    },
    (err: unknown) => {
      process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
