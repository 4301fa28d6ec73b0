// The load generator: one process per workload run, pinned by the runner to the core the server does not use. It
// takes one job over IPC, drives raw sockets (see lib/wire.ts), samples the server's CPU and memory from /proc at the
// edges of the measured window, and answers with flat metrics.
import { type PacedJob, runPaced, runStall, type StallJob } from './lib/deflate-jobs.js';
import { cpuMs, measureWindow, selfCpuMs, sleep } from './lib/job-util.js';
import { payloadSet } from './lib/payload.js';
import { cpuDelta, Histogram, readProcCpu, readProcRss } from './lib/stats.js';
import {
  clientFrame,
  clientPayloadOffset,
  DEFLATE_OFFER,
  deflateMessage,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  openMany,
  patchSeq,
  RawConn,
  readSeq,
  SampleInflater,
  upgradeRequest,
} from './lib/wire.js';

export interface Common {
  port: number;
  serverPid: number;
  /** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK). */
  ticks: number;
}
export interface EchoJob extends Common {
  kind: 'echo';
  connections: number;
  size: number;
  window: number;
  warmupMs: number;
  durationMs: number;
  /** Offer permessage-deflate like a browser (and send JSON-like, compressible payloads). */
  deflate: boolean;
  /** Send compressed (RSV1) frames, as browsers do; default: `deflate`. */
  clientCompress?: boolean;
  /** Cycle through this many distinct payloads (default 1: the same message every time). */
  distinct?: number;
}
export interface BroadcastJob extends Common {
  kind: 'broadcast';
  subscribers: number;
  size: number;
  window: number;
  warmupMessages: number;
  durationMs: number;
  drainMs: number;
  deflate: boolean;
  /** Publish this many distinct payloads in turn (default 1). */
  distinct?: number;
}
export interface IdleJob extends Common {
  kind: 'idle';
  connections: number;
  concurrency: number;
  settleMs: number;
  /** Offer permessage-deflate. */
  deflate?: boolean;
  /** Once open, each connection sends one compressed message of this many bytes and waits for the echo. */
  exchange?: number;
}
export type { PacedJob, StallJob };
export type Job = EchoJob | BroadcastJob | IdleJob | PacedJob | StallJob;
export type Metrics = Record<string, number>;
export type JobReply = { ok: true; metrics: Metrics } | { ok: false; error: string };

const CONNECT_CONCURRENCY = 128;

async function runEcho(job: EchoJob): Promise<Metrics> {
  const compressOut = job.clientCompress ?? job.deflate;
  const frames = payloadSet(job.size, job.deflate, job.distinct ?? 1).map((p) =>
    compressOut ? clientFrame(OP_TEXT, deflateMessage(p), true) : clientFrame(OP_TEXT, p),
  );
  const single = frames[0]!;
  const burst = Buffer.concat(Array.from({ length: job.window }, () => single));
  const frameLen = single.length;
  const rss0 = readProcRss(job.serverPid);
  const expectB0 = 0x80 | OP_TEXT;
  const request = upgradeRequest(job.port, '/echo', job.deflate ? DEFLATE_OFFER : '');
  const hist = new Histogram();
  let measuring = false;
  let sending = false;
  let received = 0;
  let wrongType = 0;
  let compressedReplies = 0;
  const starters: Array<() => void> = [];

  const { conns, elapsedMs: connectMs } = await openMany(job.connections, CONNECT_CONCURRENCY, 30_000, () => {
    const sentAt = new Float64Array(job.window);
    let head = 0;
    let tail = 0;
    let inFlight = 0;
    let replies = 0;
    let next = 0;
    /** k frames: a slice of the pre-built burst, or the next k of the distinct set (one write either way). */
    const framesFor = (k: number): Buffer => {
      if (frames.length === 1) return k === job.window ? burst : burst.subarray(0, k * frameLen);
      const parts: Buffer[] = [];
      for (let j = 0; j < k; j++) {
        parts.push(frames[next]!);
        next = next + 1 === frames.length ? 0 : next + 1;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    };
    const send = (k: number): void => {
      const now = performance.now();
      for (let j = 0; j < k; j++) {
        sentAt[tail] = now;
        tail = tail + 1 === job.window ? 0 : tail + 1;
      }
      inFlight += k;
      conn.write(framesFor(k));
    };
    const conn: RawConn = new RawConn({
      port: job.port,
      request,
      onFrame: (b0) => {
        const op = b0 & 0x0f;
        if (op === OP_PING || op === OP_CLOSE) return;
        if ((b0 & 0xbf) !== expectB0) wrongType++;
        if (b0 & 0x40) compressedReplies++;
        if (inFlight === 0) return;
        if (measuring) {
          hist.record((performance.now() - sentAt[head]!) * 1000);
          received++;
        }
        head = head + 1 === job.window ? 0 : head + 1;
        inFlight--;
        replies++;
      },
      onReadEnd: () => {
        const k = replies;
        replies = 0;
        if (k > 0 && sending) send(k);
      },
    });
    starters.push(() => send(job.window));
    return conn;
  });

  try {
    sending = true;
    for (const start of starters) start();
    await sleep(job.warmupMs);
    hist.reset();
    const wireBytes = (): number => conns.reduce((sum, c) => sum + c.bytesRead, 0);
    const wire0 = wireBytes();
    const { elapsed, server, selfMs } = await measureWindow(job.serverPid, job.ticks, job.durationMs, (on) => {
      measuring = on;
    });
    const wire1 = wireBytes();
    const rss1 = readProcRss(job.serverPid);
    sending = false;
    const lat = hist.summary();
    const closed = conns.filter((c) => c.closedByPeer).length;
    return {
      messages: received,
      msgsPerSec: (received / elapsed) * 1000,
      p50Us: lat.p50,
      p99Us: lat.p99,
      p999Us: lat.p999,
      maxUs: lat.max,
      serverCpuUsPerMsg: received > 0 ? (cpuMs(server) * 1000) / received : Number.NaN,
      msgsPerCpuSec: (received / cpuMs(server)) * 1000,
      serverCpuPct: (cpuMs(server) / elapsed) * 100,
      serverSysPct: (server.sysMs / elapsed) * 100,
      loadgenCpuPct: (selfMs / elapsed) * 100,
      connectMs,
      wrongType,
      compressedReplies,
      closedConnections: closed,
      // Frame bytes from the server per reply (headers included; pings are a rounding error).
      wireBytesPerMsg: received > 0 ? (wire1 - wire0) / received : Number.NaN,
      // What the server holds per connection while every one is busy: RSS at the end, less before the first connect.
      rssPerConnection: (rss1 - rss0) / job.connections,
    };
  } finally {
    for (const c of conns) c.destroy();
  }
}

async function runBroadcast(job: BroadcastJob): Promise<Metrics> {
  const payloads = payloadSet(job.size, job.deflate, job.distinct ?? 1);
  const payload = payloads[0]!;
  // The publisher always sends plain frames (RSV1 is per message, §6 of RFC 7692); the server compresses for peers.
  const templates = payloads.map((p) => clientFrame(OP_TEXT, p));
  const payloadOffset = clientPayloadOffset(templates[0]!);
  const request = upgradeRequest(job.port, '/broadcast', job.deflate ? DEFLATE_OFFER : '');
  const total = job.subscribers + 1; // the publisher receives its own messages too (the /broadcast contract)
  const counts = new Int32Array(total);
  const nextSeq = new Int32Array(total);
  const RING = 4096;
  if (job.window > RING) throw new RangeError(`window must be at most ${RING}`);
  const pending = new Int32Array(RING);
  const sentAt = new Float64Array(RING);
  const hist = new Histogram();
  let orderErrors = 0;
  let wrongType = 0;
  let sampleChecked = 0;
  let sampleErrors = 0;
  let sent = 0;
  let completed = 0;
  let sending = false;
  let measuring = false;
  let completedAtStart = 0;
  let lastCompleteAt = 0;
  let publisher: RawConn | null = null;
  let onAllComplete: (() => void) | null = null;
  let onWarm: (() => void) | null = null;

  const sendNext = (): void => {
    const seq = sent++;
    const slot = seq & (RING - 1);
    pending[slot] = total;
    sentAt[slot] = performance.now();
    const template = templates[seq % templates.length]!;
    const frame = Buffer.allocUnsafe(template.length);
    template.copy(frame);
    patchSeq(frame, payloadOffset, seq);
    publisher!.write(frame);
  };
  const complete = (seq: number): void => {
    completed++;
    const now = performance.now();
    lastCompleteAt = now;
    if (measuring) hist.record((now - sentAt[seq & (RING - 1)]!) * 1000);
    if (onWarm && completed >= job.warmupMessages) {
      const f = onWarm;
      onWarm = null;
      f();
    }
    if (sending) sendNext();
    else if (completed === sent && onAllComplete) onAllComplete();
  };
  const make = (i: number): RawConn => {
    const inflater = job.deflate && i === 1 ? new SampleInflater() : null;
    return new RawConn({
      port: job.port,
      request,
      onFrame: (b0, seqIn) => {
        const op = b0 & 0x0f;
        if (op === OP_PING || op === OP_CLOSE) return;
        if ((b0 & 0xbf) !== (0x80 | OP_TEXT)) wrongType++;
        const n = counts[i]!;
        counts[i] = n + 1;
        // Compressed payloads are not inflated (one sampled subscriber is): TCP keeps each connection in order.
        const seq = seqIn >= 0 ? seqIn : n;
        if (seq !== nextSeq[i]) orderErrors++;
        nextSeq[i] = seq + 1;
        if (seq < sent && --pending[seq & (RING - 1)]! === 0) complete(seq);
      },
      ...(inflater
        ? {
            onPayload: (b0: number, data: Buffer) => {
              const op = b0 & 0x0f;
              if (op !== OP_TEXT) return;
              try {
                const plain = b0 & 0x40 ? inflater.inflate(data) : data;
                if (readSeq(plain, 0) !== sampleChecked || plain.length !== payload.length) sampleErrors++;
              } catch {
                sampleErrors++;
              }
              sampleChecked++;
            },
          }
        : {}),
    });
  };

  const subs = await openMany(job.subscribers, CONNECT_CONCURRENCY, 120_000, (i) => make(i + 1));
  const pub = await openMany(1, 1, 10_000, () => make(0));
  publisher = pub.conns[0]!;
  const conns = [publisher, ...subs.conns];
  try {
    const deadline = job.durationMs + job.drainMs + 30_000;
    const finished = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('broadcast did not complete in time')), deadline);
      onAllComplete = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    finished.catch(() => {});
    const warm = new Promise<void>((resolve) => {
      onWarm = resolve;
    });
    sending = true;
    for (let k = 0; k < job.window; k++) sendNext();
    await Promise.race([warm, finished]);
    hist.reset();
    const cpu0 = readProcCpu(job.serverPid, job.ticks);
    const self0 = selfCpuMs();
    const t0 = performance.now();
    completedAtStart = completed;
    measuring = true;
    await sleep(job.durationMs);
    sending = false;
    let timedOut = false;
    await Promise.race([finished, sleep(job.drainMs)]).catch(() => {});
    if (completed !== sent) timedOut = true;
    measuring = false;
    const t1 = timedOut ? performance.now() : lastCompleteAt;
    const cpu1 = readProcCpu(job.serverPid, job.ticks);
    const self1 = selfCpuMs();
    await sleep(100);
    let losses = 0;
    for (let i = 0; i < total; i++) losses += Math.max(0, sent - counts[i]!);
    const measured = completed - completedAtStart;
    const elapsed = t1 - t0;
    const server = cpuDelta(cpu0, cpu1);
    const deliveries = measured * total;
    const lat = hist.summary();
    return {
      subscribers: job.subscribers,
      messagesSent: sent,
      messagesMeasured: measured,
      deliveries,
      deliveriesPerSec: (deliveries / elapsed) * 1000,
      allDeliveredMs: elapsed,
      fanoutP50Us: lat.p50,
      fanoutP99Us: lat.p99,
      fanoutP999Us: lat.p999,
      serverCpuUsPerDelivery: deliveries > 0 ? (cpuMs(server) * 1000) / deliveries : Number.NaN,
      deliveriesPerCpuSec: (deliveries / cpuMs(server)) * 1000,
      serverCpuPct: (cpuMs(server) / elapsed) * 100,
      serverSysPct: (server.sysMs / elapsed) * 100,
      loadgenCpuPct: ((self1 - self0) / elapsed) * 100,
      losses,
      orderErrors,
      wrongType,
      sampleChecked,
      sampleErrors,
      timedOut: timedOut ? 1 : 0,
      closedConnections: conns.filter((c) => c.closedByPeer).length,
      connectMs: subs.elapsedMs,
    };
  } finally {
    for (const c of conns) c.destroy();
  }
}

async function runIdle(job: IdleJob): Promise<Metrics> {
  const request = upgradeRequest(job.port, '/echo', job.deflate ? DEFLATE_OFFER : '');
  const replied: Array<() => void> = [];
  const rss0 = readProcRss(job.serverPid);
  const cpu0 = readProcCpu(job.serverPid, job.ticks);
  const self0 = selfCpuMs();
  const { conns, elapsedMs } = await openMany(job.connections, job.concurrency, 120_000, (i) => {
    return new RawConn({
      port: job.port,
      request,
      onFrame: (b0) => {
        if ((b0 & 0x0f) === OP_TEXT) replied[i]?.();
      },
    });
  });
  const cpu1 = readProcCpu(job.serverPid, job.ticks);
  const self1 = selfCpuMs();
  try {
    if (job.exchange !== undefined) {
      // A connection that has exchanged one compressed message holds whatever state its server keeps for the next.
      const [payload] = payloadSet(job.exchange, true, 1);
      const frame = clientFrame(OP_TEXT, deflateMessage(payload!), true);
      const echoes = conns.map(
        (c, i) =>
          new Promise<void>((resolve) => {
            replied[i] = resolve;
            c.write(frame);
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('not every connection got its echo within 60 s')), 60_000);
      });
      await Promise.race([Promise.all(echoes), late]).finally(() => clearTimeout(timer));
    }
    await sleep(job.settleMs);
    const rss1 = readProcRss(job.serverPid);
    const closed = conns.filter((c) => c.closedByPeer).length;
    return {
      connections: job.connections,
      rssBeforeMiB: rss0 / 2 ** 20,
      rssAfterMiB: rss1 / 2 ** 20,
      bytesPerConnection: (rss1 - rss0) / job.connections,
      handshakesPerSec: (job.connections / elapsedMs) * 1000,
      serverCpuUsPerHandshake: (cpuMs(cpuDelta(cpu0, cpu1)) * 1000) / job.connections,
      handshakesPerCpuSec: (job.connections / cpuMs(cpuDelta(cpu0, cpu1))) * 1000,
      serverCpuPct: (cpuMs(cpuDelta(cpu0, cpu1)) / elapsedMs) * 100,
      loadgenCpuPct: ((self1 - self0) / elapsedMs) * 100,
      closedConnections: closed,
    };
  } finally {
    for (const c of conns) c.destroy();
  }
}

function run(job: Job): Promise<Metrics> {
  switch (job.kind) {
    case 'echo':
      return runEcho(job);
    case 'broadcast':
      return runBroadcast(job);
    case 'idle':
      return runIdle(job);
    case 'paced':
      return runPaced(job);
    case 'stall':
      return runStall(job);
  }
}

if (process.send) {
  process.once('message', (job: Job) => {
    run(job).then(
      (metrics) => process.send!({ ok: true, metrics } satisfies JobReply, () => process.exit(0)),
      (err: unknown) =>
        process.send!({ ok: false, error: err instanceof Error ? err.message : String(err) } satisfies JobReply, () =>
          process.exit(0),
        ),
    );
  });
}
