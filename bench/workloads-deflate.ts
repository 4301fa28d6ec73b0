// The `--group compression` workloads (permessage-deflate, RFC 7692) against ws@8 at the same negotiated parameters:
// context takeover both ways, window 15 both ways, the client offering `client_max_window_bits` like a browser;
// switchboard `dedicated` and ws `perMessageDeflate` with either both thresholds at 0 or each library's default.
// ws applies its threshold only without context takeover on its side (ws 8 sender.js), so under takeover it compresses
// every message at either setting; switchboard's threshold applies in both modes.
import { fileURLToPath } from 'node:url';
import { distinctCount } from './lib/payload.js';
import {
  BROADCAST_METRICS,
  type Comparison,
  ECHO_METRICS,
  IDLE_METRICS,
  type MetricSpec,
  type Workload,
} from './lib/workload.js';

const GROUP = 'compression';
const SIZES: Array<[string, number]> = [
  ['32', 32],
  ['256', 256],
  ['2k', 2048],
  ['64k', 65536],
];
/** The outgoing-threshold sweep: where compressing starts to pay. */
const THRESHOLD_SIZES = [32, 64, 128, 256, 512, 1024, 2048];
/** A threshold nothing reaches: negotiated, never used for sending. */
const NEVER = String(2 ** 30);
const STALL_LIMIT = String(64 * 2 ** 20);
/** Preloaded into both servers of the stall workload (see lib/loop-probe.ts). */
const LOOP_PROBE = fileURLToPath(new URL('./lib/loop-probe.js', import.meta.url));

type Threshold = 't0' | 'default' | 'raw';

const thresholdArgs = (t: Threshold): string[] =>
  t === 't0' ? ['--compression-threshold', '0'] : t === 'raw' ? ['--compression-threshold', NEVER] : [];

const servers = { switchboard: 'dedicated', ws: 'on' };
const argsFor = (t: Threshold, more: { switchboard?: string[]; ws?: string[] } = {}) => ({
  switchboard: [...thresholdArgs(t), ...(more.switchboard ?? [])],
  ws: [...thresholdArgs(t), ...(more.ws ?? [])],
});

const DEFLATE_ECHO_METRICS = (cpuTarget?: number): MetricSpec[] => [
  ...ECHO_METRICS(cpuTarget),
  { key: 'wireBytesPerMsg', label: 'bytes on the wire / reply', unit: 'B', better: 'lower' },
  { key: 'rssPerConnection', label: 'server RSS / active connection', unit: 'KiB', better: 'lower', scale: 1024 },
];

const PACED_METRICS: MetricSpec[] = [
  { key: 'serverCpuUsPerMsg', label: 'server CPU / msg', unit: 'µs', better: 'lower' },
  { key: 'msgsPerSec', label: 'messages/s (paced)', unit: '/s', better: 'info' },
  { key: 'p50Us', label: 'latency p50', unit: 'µs', better: 'lower' },
  { key: 'p99Us', label: 'latency p99', unit: 'µs', better: 'lower' },
  { key: 'serverCpuPct', label: 'server CPU', unit: '%', better: 'info' },
  { key: 'loadgenCpuPct', label: 'load generator CPU', unit: '%', better: 'info' },
];

const STALL_METRICS: MetricSpec[] = [
  {
    key: 'loopMaxRunUs',
    label: 'longest main-thread run between two loop turns',
    unit: 'ms',
    better: 'lower',
    scale: 1000,
    limit: 10,
  },
  {
    key: 'loopMaxGapUs',
    label: 'longest gap between loop turns (running or waiting for the core)',
    unit: 'ms',
    better: 'lower',
    scale: 1000,
  },
  { key: 'sideMaxUs', label: 'side client round trip, max', unit: 'ms', better: 'lower', scale: 1000 },
  { key: 'sideP99Us', label: 'side client round trip, p99', unit: 'ms', better: 'lower', scale: 1000 },
  { key: 'sideP50Us', label: 'side client round trip, p50', unit: 'ms', better: 'lower', scale: 1000 },
  { key: 'sideBaselineP99Us', label: 'side p99 before the large messages', unit: 'ms', better: 'info', scale: 1000 },
  { key: 'bombsEchoed', label: 'large messages echoed', unit: '', better: 'info' },
  { key: 'serverCpuPct', label: 'server CPU', unit: '%', better: 'info' },
];

export function deflateWorkloads(quick: boolean): { workloads: Workload[]; comparisons: Comparison[] } {
  const warmupMs = quick ? 300 : 1000;
  const durationMs = quick ? 1000 : 4000;
  const subscribers = quick ? 100 : 200;
  const workloads: Workload[] = [];
  const comparisons: Comparison[] = [];

  // 1. Echo (the client compresses too, as browsers do) and broadcast, at each size and threshold setting.
  for (const t of ['t0', 'default'] as const) {
    const tText = t === 't0' ? 'both thresholds 0' : 'default thresholds';
    for (const [label, size] of SIZES) {
      workloads.push({
        id: `deflate-echo-${label}-${t}`,
        title: `echo deflate ${label} B JSON both ways, 50 conns, window 1, ${tText}`,
        servers,
        args: argsFor(t),
        group: GROUP,
        job: {
          kind: 'echo',
          connections: 50,
          size,
          window: 1,
          warmupMs,
          durationMs,
          deflate: true,
          distinct: distinctCount(size),
        },
        // The target for 2 KiB JSON compressed both ways: a third of ws's CPU; elsewhere at most ws's.
        metrics: DEFLATE_ECHO_METRICS(size === 2048 ? 0.33 : 1),
      });
    }
    for (const [label, size] of SIZES) {
      workloads.push({
        id: `deflate-broadcast-${label}-${t}`,
        title: `broadcast deflate ${label} B JSON → ${subscribers} subs, context takeover, ${tText}`,
        servers,
        args: argsFor(t),
        group: GROUP,
        job: {
          kind: 'broadcast',
          subscribers,
          size,
          window: 16,
          // Warm up by bytes compressed, not messages: 64 KiB messages to each subscriber add up fast.
          warmupMessages: Math.max(16, Math.ceil(Math.min(200_000, 2 ** 27 / size) / subscribers / (quick ? 4 : 1))),
          durationMs,
          drainMs: 15_000,
          deflate: true,
          distinct: distinctCount(size),
        },
        metrics: BROADCAST_METRICS(1),
      });
    }
  }

  // 2a. Tiny compressed messages paced over 200 connections vs the same messages uncompressed (same negotiation).
  for (const size of [0, 27]) {
    for (const compressed of [true, false]) {
      workloads.push({
        id: `deflate-tiny-in-${size}${compressed ? '' : '-plain'}`,
        title: `${size} B chat line ${compressed ? 'compressed' : 'uncompressed'} in, 200 conns paced at 4,000 msg/s`,
        servers,
        group: GROUP,
        batch: `tiny-${size}`,
        job: { kind: 'paced', connections: 200, size, rate: 4000, warmupMs, durationMs, compressed },
        metrics: PACED_METRICS,
      });
    }
    comparisons.push({
      title: `${size} B compressed in ÷ uncompressed in, server CPU / msg (200 conns paced)`,
      numerator: `deflate-tiny-in-${size}`,
      denominator: `deflate-tiny-in-${size}-plain`,
      key: 'serverCpuUsPerMsg',
      max: 2,
    });
  }

  // 2c. Memory: idle compressed connections (negotiated only, and after one compressed message each), active ones.
  const idleConns = quick ? 2000 : 10_000;
  for (const used of [false, true]) {
    workloads.push({
      id: `deflate-idle-10k${used ? '-used' : ''}`,
      title: `idle ${idleConns} deflate connections${used ? ', each after one 2 KiB compressed echo' : ''}`,
      servers,
      group: GROUP,
      job: {
        kind: 'idle',
        connections: idleConns,
        concurrency: 64,
        settleMs: quick ? 500 : 2000,
        deflate: true,
        ...(used ? { exchange: 2048 } : {}),
      },
      metrics: IDLE_METRICS(),
    });
  }
  workloads.push({
    id: 'deflate-active-1k',
    title: 'echo deflate 2 KiB JSON both ways, 1,000 conns, window 1, default thresholds',
    servers,
    group: GROUP,
    job: {
      kind: 'echo',
      connections: quick ? 500 : 1000,
      size: 2048,
      window: 1,
      warmupMs,
      durationMs,
      deflate: true,
      distinct: distinctCount(2048),
    },
    metrics: DEFLATE_ECHO_METRICS(0.33),
  });

  // 2d. Event-loop stall: a side client's round trips while one peer sends 65 KB frames that inflate to 60 MiB
  // (under a 64 MiB limit) and gets each back, compressed: large work both ways.
  workloads.push({
    id: 'deflate-stall',
    title: 'side client /echo while a peer sends 60 MiB (inflated) messages, 64 MiB limit',
    servers,
    args: { switchboard: ['--max-message-size', '64MiB'], ws: ['--max-message-size', STALL_LIMIT] },
    nodeFlags: ['--import', LOOP_PROBE],
    group: GROUP,
    job: {
      kind: 'stall',
      loopProbe: true,
      bombBytes: 60 * 2 ** 20,
      baselineMs: quick ? 500 : 1000,
      durationMs: quick ? 2000 : 5000,
      sideGapMs: 1,
    },
    metrics: STALL_METRICS,
  });

  // 3. The outgoing threshold: the same replies compressed (threshold 0) or not (switchboard: a threshold never
  // reached, same negotiation; ws: compression off, since under context takeover ws compresses whatever its
  // threshold), the client sending plain frames so only the server's sending side differs.
  for (const size of THRESHOLD_SIZES) {
    for (const t of ['t0', 'raw'] as const) {
      workloads.push({
        id: `deflate-out-${size}-${t}`,
        title: `echo ${size} B JSON, replies ${t === 't0' ? 'compressed' : 'uncompressed'}, 50 conns, window 1`,
        servers: t === 'raw' ? { switchboard: 'dedicated', ws: 'off' } : servers,
        args: t === 'raw' ? { switchboard: thresholdArgs('raw'), ws: [] } : argsFor(t),
        group: GROUP,
        batch: `out-${size}`,
        job: {
          kind: 'echo',
          connections: 50,
          size,
          window: 1,
          warmupMs,
          durationMs,
          deflate: true,
          clientCompress: false,
          distinct: distinctCount(size),
        },
        // No target against ws: the point is each server's compressed ÷ raw (the comparisons), and `-raw` runs ws
        // without compression at all.
        metrics: DEFLATE_ECHO_METRICS(),
      });
    }
    for (const key of ['serverCpuUsPerMsg', 'wireBytesPerMsg']) {
      comparisons.push({
        title: `${size} B replies compressed ÷ uncompressed, ${key === 'serverCpuUsPerMsg' ? 'server CPU / msg' : 'bytes on the wire'}`,
        numerator: `deflate-out-${size}-t0`,
        denominator: `deflate-out-${size}-raw`,
        key,
      });
    }
  }
  return { workloads, comparisons };
}
