// Load generator jobs for the permessage-deflate targets (RFC 7692): tiny messages paced over many
// connections, compressed or not (what browsers send to a chat server), and an event-loop-stall probe (a side client's
// round trips while another peer sends messages that inflate to tens of MiB).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { cpuMs, measureWindow, sleep } from './job-util.js';
import { type LoopProbeResult, resultPath } from './loop-probe.js';
import { cpuDelta, Histogram, readProcCpu } from './stats.js';
import {
  clientFrame,
  DEFLATE_OFFER,
  deflateMessage,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  openMany,
  RawConn,
  upgradeRequest,
} from './wire.js';

interface Common {
  port: number;
  serverPid: number;
  ticks: number;
}

export interface PacedJob extends Common {
  kind: 'paced';
  connections: number;
  /** Payload bytes: a chat line cut or padded to this length; 0 is an empty message. */
  size: number;
  /** Messages per second over all connections, sent on a clock whatever the replies do (open loop). */
  rate: number;
  warmupMs: number;
  durationMs: number;
  /** Send every message compressed (RSV1); permessage-deflate is negotiated either way, so only this differs. */
  compressed: boolean;
}

export interface StallJob extends Common {
  kind: 'stall';
  /** Inflated size of each large message: zeros, so about 1,000:1 on the wire. */
  bombBytes: number;
  /** The side client alone first (its baseline), then with the large messages. */
  baselineMs: number;
  durationMs: number;
  /** Pause between the side client's round trips. */
  sideGapMs: number;
  /** The server was started with lib/loop-probe.js: signal it around the measured window and report its figures. */
  loopProbe?: boolean;
}

type Metrics = Record<string, number>;

const TICK_MS = 2;
const RING = 64;

/** A chat line of exactly `size` bytes (`{"t":"msg","text":"hello!"}` is 27). */
function chatLine(size: number): Buffer {
  const base = JSON.stringify({ t: 'msg', text: 'hello!' });
  const text =
    size <= base.length ? base.slice(0, size) : base.slice(0, -2) + 'x'.repeat(size - base.length) + base.slice(-2);
  return Buffer.from(text, 'latin1');
}

export async function runPaced(job: PacedJob): Promise<Metrics> {
  const payload = chatLine(job.size);
  const frame = job.compressed ? clientFrame(OP_TEXT, deflateMessage(payload), true) : clientFrame(OP_TEXT, payload);
  const request = upgradeRequest(job.port, '/echo', DEFLATE_OFFER);
  const hist = new Histogram();
  let measuring = false;
  let received = 0;
  let compressedReplies = 0;
  const senders: Array<() => void> = [];
  const { conns } = await openMany(job.connections, 128, 30_000, () => {
    const sentAt = new Float64Array(RING);
    let head = 0;
    let tail = 0;
    const conn: RawConn = new RawConn({
      port: job.port,
      request,
      onFrame: (b0) => {
        const op = b0 & 0x0f;
        if (op === OP_PING || op === OP_CLOSE || head === tail) return;
        if (b0 & 0x40) compressedReplies++;
        if (measuring) {
          hist.record((performance.now() - sentAt[head]!) * 1000);
          received++;
        }
        head = (head + 1) % RING;
      },
    });
    senders.push(() => {
      // A connection more than RING messages behind is not measured twice: its oldest send time is overwritten.
      sentAt[tail] = performance.now();
      tail = (tail + 1) % RING;
      if (tail === head) head = (head + 1) % RING;
      conn.write(frame);
    });
    return conn;
  });
  const start = performance.now();
  let sent = 0;
  // Due messages are spread round-robin over the connections, so each one sends every connections/rate seconds.
  const clock = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * job.rate) / 1000);
    for (; sent < due; sent++) senders[sent % senders.length]!();
  }, TICK_MS);
  try {
    await sleep(job.warmupMs);
    hist.reset();
    const { elapsed, server, selfMs } = await measureWindow(job.serverPid, job.ticks, job.durationMs, (on) => {
      measuring = on;
    });
    const lat = hist.summary();
    return {
      messages: received,
      msgsPerSec: (received / elapsed) * 1000,
      serverCpuUsPerMsg: received > 0 ? (cpuMs(server) * 1000) / received : Number.NaN,
      msgsPerCpuSec: (received / cpuMs(server)) * 1000,
      p50Us: lat.p50,
      p99Us: lat.p99,
      maxUs: lat.max,
      serverCpuPct: (cpuMs(server) / elapsed) * 100,
      loadgenCpuPct: (selfMs / elapsed) * 100,
      wireBytesIn: frame.length,
      compressedReplies,
      closedConnections: conns.filter((c) => c.closedByPeer).length,
    };
  } finally {
    clearInterval(clock);
    for (const c of conns) c.destroy();
  }
}

export async function runStall(job: StallJob): Promise<Metrics> {
  // Zeros at level 9: the most a 65 KB frame can carry, the classic decompression bomb kept under the limit.
  const deflated = deflateRawSync(Buffer.alloc(job.bombBytes), {
    level: 9,
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
  });
  const bomb = clientFrame(OP_BINARY, deflated.subarray(0, deflated.length - 4), true);
  const ping = clientFrame(OP_TEXT, Buffer.from('side client: are you there?'));
  const baseline = new Histogram();
  const loaded = new Histogram();
  let hist: Histogram | null = null;
  let sideSentAt = 0;
  let sideRunning = true;
  let side: RawConn | null = null;
  const sideSend = (): void => {
    if (!sideRunning || !side) return;
    sideSentAt = performance.now();
    side.write(ping);
  };
  side = (
    await openMany(1, 1, 10_000, () => {
      return new RawConn({
        port: job.port,
        request: upgradeRequest(job.port, '/echo'),
        onFrame: (b0) => {
          if ((b0 & 0x0f) !== OP_TEXT) return;
          hist?.record((performance.now() - sideSentAt) * 1000);
          setTimeout(sideSend, job.sideGapMs);
        },
      });
    })
  ).conns[0]!;
  let bombing = false;
  let bombsSent = 0;
  let bombsEchoed = 0;
  let compressedEchoes = 0;
  let peer: RawConn | null = null;
  peer = (
    await openMany(1, 1, 10_000, () => {
      return new RawConn({
        port: job.port,
        request: upgradeRequest(job.port, '/echo', DEFLATE_OFFER),
        onFrame: (b0) => {
          if ((b0 & 0x0f) !== OP_BINARY) return;
          bombsEchoed++;
          if (b0 & 0x40) compressedEchoes++;
          // One at a time: the next large message once the echo of the last is back.
          if (bombing) {
            bombsSent++;
            peer!.write(bomb);
          }
        },
      });
    })
  ).conns[0]!;
  try {
    hist = baseline;
    sideSend();
    await sleep(job.baselineMs);
    hist = loaded;
    const cpu0 = readProcCpu(job.serverPid, job.ticks);
    const t0 = performance.now();
    if (job.loopProbe) process.kill(job.serverPid, 'SIGUSR2');
    bombing = true;
    bombsSent++;
    peer.write(bomb);
    await sleep(job.durationMs);
    bombing = false;
    const t1 = performance.now();
    const cpu1 = readProcCpu(job.serverPid, job.ticks);
    const loop = job.loopProbe ? await loopProbeResult(job.serverPid) : null;
    hist = null;
    sideRunning = false;
    const base = baseline.summary();
    const lat = loaded.summary();
    const elapsed = t1 - t0;
    return {
      bombFrameBytes: bomb.length,
      bombInflatedMiB: job.bombBytes / 2 ** 20,
      bombsSent,
      bombsEchoed,
      compressedEchoes,
      sideRoundTrips: loaded.count,
      sideBaselineP99Us: base.p99,
      sideBaselineMaxUs: base.max,
      sideP50Us: lat.p50,
      sideP99Us: lat.p99,
      sideMaxUs: lat.max,
      serverCpuPct: (cpuMs(cpuDelta(cpu0, cpu1)) / elapsed) * 100,
      closedConnections: [side, peer].filter((c) => c.closedByPeer).length,
      ...(loop
        ? {
            loopMaxGapUs: loop.maxGapMs * 1000,
            loopMaxRunUs: loop.maxRunMs * 1000,
            loopGapsOver10: loop.gapsOver10,
            loopRunsOver10: loop.runsOver10,
          }
        : {}),
    };
  } finally {
    side.destroy();
    peer.destroy();
  }
}

/** Stops the server's loop probe and reads what it measured (it writes the file on the signal), waiting up to 5 s. */
async function loopProbeResult(pid: number): Promise<LoopProbeResult> {
  const path = resultPath(pid);
  rmSync(path, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 5000; waited += 20) {
    await sleep(20);
    if (!existsSync(path)) continue;
    const result = JSON.parse(readFileSync(path, 'utf8')) as LoopProbeResult;
    rmSync(path);
    return result;
  }
  throw new Error(`the server's loop probe wrote nothing to ${path}`);
}
