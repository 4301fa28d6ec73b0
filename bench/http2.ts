// WebSockets over HTTP/2 (RFC 8441) against HTTP/1.1, on the demo as shipped (`switchboard serve --tls-cert
// --tls-key`, compression off, in its own process pinned to core 0): 1,000 WebSockets multiplexed over 10 HTTP/2
// sessions versus 1,000 over their own TLS connections. Server RSS per WebSocket, server CPU per WebSocket opened, and
// server CPU per echoed 32-byte message (window 1 on every WebSocket). The clients run in this process (core 1).
//   npm run build && node dist/bench/http2.js [--rounds 3] [--quick] [--json]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { loadavg, tmpdir } from 'node:os';
import { canPin, hardFdLimit, LOADGEN_CORE, pinnedCommand, SERVER_CORE } from './lib/cores.js';
import { dirname, join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeCertificate } from '../test/helpers/certificate.js';
import type { Http2Figures } from './lib/render.js';
import { cpuDelta, median, readProcCpu, readProcRss } from './lib/stats.js';
import { clientFrame, FrameReader, OP_TEXT, upgradeRequest } from './lib/wire.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type Carrier = 'h2' | 'http/1.1';

export interface Http2BenchRun extends Http2Figures {
  carrier: Carrier;
}

export interface Http2BenchResult {
  rounds: number;
  conditions: string[];
  runs: Http2BenchRun[];
  /** Medians per carrier. */
  medians: Record<Carrier, Http2BenchRun>;
}

interface Settings {
  websockets: number;
  sessions: number;
  settleMs: number;
  warmupMs: number;
  durationMs: number;
  ticks: number;
  pin: boolean;
}

/** One WebSocket of the load: send its next message. */
type Echoer = () => void;
/** Called on each echo; true: the run goes on, so that WebSocket sends its next message. */
type OnEcho = () => boolean;

// ---- the server ----------------------------------------------------------------------------------------------------

async function startServe(
  s: Settings,
  certFile: string,
  keyFile: string,
): Promise<{ proc: ChildProcess; url: string }> {
  const serve = [join(ROOT, 'bin', 'switchboard.js'), 'serve', '--port', '0', '--compression', 'off'];
  const argv = pinnedCommand(
    SERVER_CORE,
    [process.execPath, ...serve, '--tls-cert', certFile, '--tls-key', keyFile],
    hardFdLimit(),
    s.pin,
  );
  const proc = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.setEncoding('utf8');
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[1]!);
      }
    });
    proc.once('exit', (code) => fail(new Error(`serve exited with ${code}: ${out}`)));
  });
  return { proc, url };
}

// ---- the clients ---------------------------------------------------------------------------------------------------

/** Reads one WebSocket's frames: each echo of a text message makes it send the next (other frames are not counted). */
function reader(onEcho: OnEcho, send: Echoer): FrameReader {
  return new FrameReader((b0) => {
    if ((b0 & 0x0f) === OP_TEXT && onEcho()) send();
  });
}

/** 1,000 extended CONNECT streams over `sessions` HTTP/2 sessions. */
async function openH2(
  url: string,
  s: Settings,
  frame: Buffer,
  onEcho: OnEcho,
): Promise<{ echoers: Echoer[]; close(): void }> {
  const sessions: ClientHttp2Session[] = [];
  const echoers: Echoer[] = [];
  for (let i = 0; i < s.sessions; i++) {
    const session = h2connect(url, { rejectUnauthorized: false });
    session.on('error', () => {});
    sessions.push(session);
    await once(session, 'remoteSettings');
  }
  const perSession = s.websockets / s.sessions;
  await Promise.all(
    sessions.map(async (session) => {
      for (let i = 0; i < perSession; i++) {
        const stream = session.request(
          { ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/echo', 'sec-websocket-version': '13' },
          { endStream: false },
        );
        stream.on('error', () => {});
        const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
        if (headers[':status'] !== 200) throw new Error(`CONNECT /echo answered ${String(headers[':status'])}`);
        const send = (): void => {
          stream.write(frame);
        };
        const frames = reader(onEcho, send);
        stream.on('data', (chunk: Buffer) => frames.push(chunk, 0, chunk.length));
        echoers.push(send);
      }
    }),
  );
  return {
    echoers,
    close: () => {
      for (const x of sessions) x.destroy();
    },
  };
}

/** 1,000 TLS connections, each upgraded to a WebSocket (RFC 6455 §4), 64 handshakes at a time. */
async function openH1(
  url: string,
  s: Settings,
  frame: Buffer,
  onEcho: OnEcho,
): Promise<{ echoers: Echoer[]; close(): void }> {
  const { port } = new URL(url);
  const request = upgradeRequest(Number(port), '/echo');
  const sockets: ReturnType<typeof tlsConnect>[] = [];
  const echoers: Echoer[] = [];
  const openOne = async (): Promise<void> => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: Number(port),
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    // As node's HTTP/2 client does for its sessions: no Nagle delay on small frames.
    socket.setNoDelay(true);
    socket.on('error', () => {});
    sockets.push(socket);
    await once(socket, 'secureConnect');
    socket.write(request);
    let head = Buffer.alloc(0);
    while (head.indexOf('\r\n\r\n') < 0) head = Buffer.concat([head, (await once(socket, 'data'))[0] as Buffer]);
    if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head}`);
    const send = (): void => {
      socket.write(frame);
    };
    const frames = reader(onEcho, send);
    const rest = head.subarray(head.indexOf('\r\n\r\n') + 4);
    if (rest.length > 0) frames.push(rest, 0, rest.length);
    socket.on('data', (chunk: Buffer) => frames.push(chunk, 0, chunk.length));
    echoers.push(send);
  };
  for (let i = 0; i < s.websockets; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, s.websockets - i) }, openOne));
  }
  return {
    echoers,
    close: () => {
      for (const x of sockets) x.destroy();
    },
  };
}

// ---- one run -------------------------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runOnce(
  carrier: Carrier,
  s: Settings,
  cert: { certFile: string; keyFile: string },
): Promise<Http2BenchRun> {
  const { proc, url } = await startServe(s, cert.certFile, cert.keyFile);
  const pid = proc.pid!;
  try {
    await sleep(500);
    const rssBefore = readProcRss(pid);
    const frame = clientFrame(OP_TEXT, Buffer.alloc(32, 0x61));
    let echoes = 0;
    let running = false;
    const open = carrier === 'h2' ? openH2 : openH1;
    const cpuOpen0 = readProcCpu(pid, s.ticks);
    const load = await open(url, s, frame, () => {
      echoes++;
      return running;
    });
    const opened = cpuDelta(cpuOpen0, readProcCpu(pid, s.ticks));
    await sleep(s.settleMs);
    const rssAfter = readProcRss(pid);

    // Window 1 on every WebSocket: each echo is answered with its WebSocket's next message.
    running = true;
    for (const send of load.echoers) send();
    await sleep(s.warmupMs);
    const cpu0 = readProcCpu(pid, s.ticks);
    const client0 = process.cpuUsage();
    const n0 = echoes;
    const t0 = performance.now();
    await sleep(s.durationMs);
    const cpu1 = readProcCpu(pid, s.ticks);
    const client = process.cpuUsage(client0);
    const n = echoes - n0;
    const wallMs = performance.now() - t0;
    running = false;
    load.close();
    const server = cpuDelta(cpu0, cpu1);
    return {
      carrier,
      websockets: s.websockets,
      connections: carrier === 'h2' ? s.sessions : s.websockets,
      bytesPerWebSocket: (rssAfter - rssBefore) / s.websockets,
      serverCpuUsPerOpen: ((opened.userMs + opened.sysMs) * 1000) / s.websockets,
      serverCpuUsPerMsg: ((server.userMs + server.sysMs) * 1000) / n,
      msgsPerSec: (n / wallMs) * 1000,
      serverCpuPct: ((server.userMs + server.sysMs) / wallMs) * 100,
      clientCpuPct: ((client.user + client.system) / 1000 / wallMs) * 100,
    };
  } finally {
    proc.kill('SIGKILL');
    await once(proc, 'exit');
  }
}

function medianRun(runs: Http2BenchRun[], carrier: Carrier): Http2BenchRun {
  const of = runs.filter((r) => r.carrier === carrier);
  const m = (key: keyof Http2BenchRun): number => median(of.map((r) => r[key] as number));
  return {
    carrier,
    websockets: of[0]?.websockets ?? 0,
    connections: of[0]?.connections ?? 0,
    bytesPerWebSocket: m('bytesPerWebSocket'),
    serverCpuUsPerOpen: m('serverCpuUsPerOpen'),
    serverCpuUsPerMsg: m('serverCpuUsPerMsg'),
    msgsPerSec: m('msgsPerSec'),
    serverCpuPct: m('serverCpuPct'),
    clientCpuPct: m('clientCpuPct'),
  };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<Http2BenchResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick ?? false;
  const rounds = Number(values.rounds ?? (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new RangeError('--rounds must be 1..20');
  const pin = canPin();
  // The clients hold 1,000 sockets: this process needs the hard open-file limit too.
  const hard = hardFdLimit();
  spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`]);
  if (pin) spawnSync('taskset', ['-p', '-c', LOADGEN_CORE, String(process.pid)], { stdio: 'ignore' });
  const settings: Settings = {
    websockets: 1000,
    sessions: 10,
    settleMs: quick ? 500 : 2000,
    warmupMs: quick ? 300 : 1000,
    durationMs: quick ? 1000 : 4000,
    ticks: Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100,
    pin,
  };
  const load0 = loadavg();
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-bench-tls-'));
  const runs: Http2BenchRun[] = [];
  try {
    const cert = await writeCertificate(dir);
    for (let r = 0; r < rounds; r++) {
      for (const carrier of ['h2', 'http/1.1'] as const) {
        const run = await runOnce(carrier, settings, cert);
        runs.push(run);
        if (!values.json)
          process.stdout.write(
            `  http2 round ${r + 1} ${carrier.padEnd(8)} RSS/ws=${(run.bytesPerWebSocket / 1024).toFixed(1)} KiB ` +
              `cpu/open=${run.serverCpuUsPerOpen.toFixed(0)} µs cpu/msg=${run.serverCpuUsPerMsg.toFixed(2)} µs ` +
              `msgs/s=${run.msgsPerSec.toFixed(0)} clientCPU=${run.clientCpuPct.toFixed(0)}%\n`,
          );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const result: Http2BenchResult = {
    rounds,
    conditions: [
      `${settings.websockets} WebSockets per run over TLS (P-256 certificate): HTTP/2 = ${settings.sessions} sessions × ${settings.websockets / settings.sessions} extended CONNECT streams; HTTP/1.1 = one TLS connection each`,
      `server: \`switchboard serve --compression off --tls-cert --tls-key\` (the demo, heartbeat on)${pin ? ', pinned to core 0; clients in the bench process on core 1' : ', not pinned'}; a fresh server per run, h2 and HTTP/1.1 alternating`,
      `RSS per WebSocket: server VmRSS ${settings.settleMs} ms after the last open minus before the first, over ${settings.websockets}; CPU: the server's utime+stime from /proc`,
      `echo: 32-byte text, one message in flight per WebSocket, ${settings.warmupMs} ms warm-up, ${settings.durationMs} ms measured`,
      `load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    ],
    runs,
    medians: { h2: medianRun(runs, 'h2'), 'http/1.1': medianRun(runs, 'http/1.1') },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`http2 bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
